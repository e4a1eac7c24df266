#!/usr/bin/env python3
"""Build the release artefacts and prove they work for a store that is not ours.

1. Export the checkout's files (tracked, and untracked ones git does not ignore) to a
   temporary directory and run ``python -m build`` there, so nothing (``build/``,
   ``*.egg-info``, ``dist/``) is written into the checkout; the artefacts go to a temporary
   directory too.
2. ``twine check --strict`` both artefacts.
3. The sdist holds every exported file but a short list of repository-only ones (tests/,
   docs/, example_project/, LICENSE, CHANGELOG.md included) and nothing else but what
   setuptools generates; the wheel holds every file of the package tree: each module,
   migration, template, locale catalogue, static file and ``py.typed``.
4. A fresh virtualenv gets the wheel (and its dependencies from the index) and nothing
   else of ours. Beside it a throw-away Django project is written from scratch (its own
   settings, a tiny app with its own ``Order`` model, ``WEBHOOKS["ORDER_MODEL"]`` pointing at
   it, django-q2's ORM broker on SQLite in WAL mode); it runs ``makemigrations``,
   ``migrate``, ``check --fail-level WARNING``, ``webhooks_create_key``, ``GET /api/schema/``
   with that key (no ``REST_FRAMEWORK`` setting), ``POST /api/webhooks/`` to subscribe a
   receiver in this script, and one real delivery: a ``manage.py qcluster`` is started, an
   order is saved in a transaction, and the receiver gets the signed POST, verified with the
   ``standardwebhooks`` package and the key's signing secret.
5. The checkout is unchanged (``git status --ignored`` before and after).

    python .ci/release_check.py [--keep] [--outdir DIR]

Runs with the project's virtualenv (it needs ``build``, ``twine`` and ``standardwebhooks``).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import http.server
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "django_webhooks"

#: Tracked files a packager does not need: repository and editor tooling.
NOT_IN_SDIST = [".github/*", ".gitignore", ".pre-commit-config.yaml"]
#: What setuptools adds to an sdist of its own.
SDIST_GENERATED = ["PKG-INFO", "setup.cfg", "django_webhooks.egg-info/*"]
#: The sdist must hold these (a packager runs the tests and builds the docs from it).
SDIST_REQUIRED = [
    "LICENSE",
    "CHANGELOG.md",
    "README.md",
    "pyproject.toml",
    "manage.py",
    "tests/conftest.py",
    "docs/installing.md",
    "example_project/settings.py",
]
#: Kinds of package data the wheel must carry, each at least once (besides the comparison
#: with the package tree, which catches any single missing file).
WHEEL_REQUIRED = {
    "a migration": f"{PACKAGE}/migrations/0001_*.py",
    "a template": f"{PACKAGE}/templates/*.html",
    "a compiled catalogue": f"{PACKAGE}/locale/*/LC_MESSAGES/django.mo",
    "a static file": f"{PACKAGE}/static/*",
    "py.typed": f"{PACKAGE}/py.typed",
}
TIMEOUT = 60.0


def step(message: str) -> None:
    print(f"release-check: {message}", flush=True)


def run(command: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``command``; on failure print its output and stop."""
    kwargs.setdefault("capture_output", True)
    result = subprocess.run([str(part) for part in command], text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(
            f"release-check: {' '.join(map(str, command))} failed ({result.returncode}):\n"
            f"{result.stdout or ''}{result.stderr or ''}"
        )
    return result


def checkout_state() -> set[str]:
    """Every untracked or ignored path git sees in the checkout (directories collapsed)."""
    result = run(
        ["git", "status", "--porcelain", "--ignored=matching", "--untracked-files=normal"],
        cwd=ROOT,
    )
    return {line[3:] for line in result.stdout.splitlines() if line[:2] in ("??", "!!")}


def exported_files() -> list[str]:
    """The checkout's files as a packager would get them: tracked, or untracked and not ignored."""
    result = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    names = sorted({name for name in result.stdout.split("\0") if name})
    return [name for name in names if (ROOT / name).is_file()]


def export(files: list[str], destination: Path) -> None:
    for name in files:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def build(source: Path, dist: Path) -> tuple[Path, Path]:
    step("python -m build (sdist, then the wheel from the sdist)")
    run([sys.executable, "-m", "build", "--outdir", dist, source])
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    step("twine check --strict")
    run([sys.executable, "-m", "twine", "check", "--strict", sdist, wheel])
    return sdist, wheel


def check_sdist(sdist: Path, files: list[str]) -> None:
    with tarfile.open(sdist) as archive:
        members = [member.name for member in archive.getmembers() if member.isfile()]
    prefix = members[0].split("/", 1)[0] + "/"
    inside = {name.removeprefix(prefix) for name in members}
    expected = {name for name in files if not matches(name, NOT_IN_SDIST)}
    missing = sorted(expected - inside)
    extra = sorted(name for name in inside - expected if not matches(name, SDIST_GENERATED))
    absent = [name for name in SDIST_REQUIRED if name not in inside]
    problems = []
    if missing:
        problems.append(
            "missing from the sdist (MANIFEST.in, or package-data in pyproject.toml):\n  "
            + "\n  ".join(missing)
        )
    if extra:
        problems.append("in the sdist but not in the checkout:\n  " + "\n  ".join(extra))
    if absent:
        problems.append("required in the sdist:\n  " + "\n  ".join(absent))
    if problems:
        sys.exit("release-check: " + "\n".join(problems))
    step(f"sdist: {len(inside)} files, every exported file but {NOT_IN_SDIST}")


def check_wheel(wheel: Path, source: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        inside = set(archive.namelist())
    tree = {
        path.relative_to(source).as_posix()
        for path in (source / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    missing = sorted(tree - inside)
    if missing:
        sys.exit(
            "release-check: files of the package tree missing from the wheel "
            "([tool.setuptools.package-data] in pyproject.toml):\n  " + "\n  ".join(missing)
        )
    stray = sorted(
        name
        for name in inside
        if not name.startswith((f"{PACKAGE}/", f"{wheel.name.split('-')[0]}-"))
    )
    if stray:
        sys.exit(
            "release-check: the wheel carries files outside the package:\n  " + "\n  ".join(stray)
        )
    for kind, pattern in WHEEL_REQUIRED.items():
        if not any(fnmatch.fnmatchcase(name, pattern) for name in tree):
            sys.exit(f"release-check: the package tree has no {kind} ({pattern})")
    kinds = Counter(
        name.split("/")[1] for name in tree if not name.endswith(".py") or "/migrations/" in name
    )
    step(
        f"wheel: all {len(tree)} files of the package tree ("
        + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        + ")"
    )


# The throw-away project: nothing of ours but the installed wheel.

SETTINGS = '''\
"""A store that is not the example: written by .ci/release_check.py."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "throw-away-project-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "django_webhooks",
    "orders",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "store.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}
Q_CLUSTER = {"name": "throwaway", "orm": "default", "workers": 1, "timeout": 60, "retry": 120}
WEBHOOKS = {
    "ORDER_MODEL": "orders.Order",
    # The receiver is this script, on 127.0.0.1.
    "ALLOW_PRIVATE_DESTINATIONS": True,
}
# W004 says private destinations are allowed: on purpose here, for the local receiver.
SILENCED_SYSTEM_CHECKS = ["django_webhooks.W004"]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
'''

URLS = """\
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("django_webhooks.api.urls")),
]
"""

MODELS = """\
from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=20, default="pending")
    payment_status = models.CharField(max_length=20, default="requested")
    fulfillment_status = models.CharField(max_length=20, default="not_fulfilled")
    total = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self):
        return self.number
"""

MANAGE = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "store.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

#: Run by ``manage.py shell -c`` with TOKEN and RECEIVER in the environment: the third
#: party's flow through the API of the installed wheel.
API = """\
import json, os
from django.test import Client

client = Client(HTTP_AUTHORIZATION="Api-Key " + os.environ["TOKEN"])
schema = client.get("/api/schema/", {"format": "json"})
assert schema.status_code == 200, (schema.status_code, schema.content[:500])
document = json.loads(schema.content)
assert document["openapi"].startswith("3") and "/api/webhooks/" in document["paths"], document
created = client.post(
    "/api/webhooks/",
    {"url": os.environ["RECEIVER"], "events": ["order.created"]},
    content_type="application/json",
)
assert created.status_code == 201, (created.status_code, created.content[:500])
print(json.dumps({"paths": len(document["paths"]), "webhook": created.json()["id"]}))
"""

SAVE_ORDER = """\
from decimal import Decimal
from django.db import transaction
from orders.models import Order

with transaction.atomic():
    order = Order.objects.create(number="T-1", total=Decimal("12.50"))
print(order.pk)
"""


def write_project(directory: Path) -> None:
    files = {
        "manage.py": MANAGE,
        "store/__init__.py": "",
        "store/settings.py": SETTINGS,
        "store/urls.py": URLS,
        "orders/__init__.py": "",
        "orders/models.py": MODELS,
        "orders/migrations/__init__.py": "",
    }
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)


class Receiver(http.server.ThreadingHTTPServer):
    """Records each POST: (path, headers, body); answers 200."""

    def __init__(self) -> None:
        self.requests: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()
        super().__init__(("127.0.0.1", 0), ReceiverHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/orders"


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.put((self.path, dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def qcluster(python: Path, project: Path, env: dict[str, str]):
    """A running ``manage.py qcluster``; stopped with SIGTERM (then SIGKILL) on the way out."""
    process = subprocess.Popen(
        [python, "manage.py", "qcluster"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    running = threading.Event()

    def read() -> None:
        for line in process.stdout:
            output.append(line.rstrip())
            if "running." in line:
                running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not running.wait(TIMEOUT):
            raise SystemExit("release-check: qcluster did not start:\n" + "\n".join(output))
        yield output
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        reader.join(5)


def throwaway_store(wheel: Path, work: Path) -> None:
    from standardwebhooks.webhooks import Webhook

    venv = work / "venv"
    step("a fresh virtualenv with the wheel and nothing else of ours")
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel])
    version = run([python, "-c", "import django; print(django.get_version())"]).stdout.strip()
    step(f"installed {wheel.name} with Django {version}")

    project = work / "project"
    write_project(project)
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(work),
        "DJANGO_SETTINGS_MODULE": "store.settings",
        "PYTHONUNBUFFERED": "1",
        "PYTHONWARNINGS": "error::DeprecationWarning:django_webhooks",
    }

    def manage(*args: str, **extra_env: str) -> str:
        return run([python, "manage.py", *args], cwd=project, env={**env, **extra_env}).stdout

    def shell(code: str, **extra_env: str) -> str:
        """The last line ``code`` printed (Django 5.2's shell may print a line of its own)."""
        return manage("shell", "-c", code, **extra_env).strip().splitlines()[-1]

    located = run(
        [python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], cwd=project, env=env
    ).stdout.strip()
    if not located.startswith(str(venv)):
        sys.exit(f"release-check: {PACKAGE} imported from {located}, not the fresh virtualenv")

    step("makemigrations orders, migrate, check --fail-level WARNING")
    manage("makemigrations", "orders")
    manage("migrate", "--no-input")
    checked = manage("check", "--fail-level", "WARNING")
    if "no issues" not in checked:
        sys.exit(f"release-check: manage.py check: {checked}")
    key = json.loads(manage("webhooks_create_key", "Throw-away partner", "--json"))

    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        api = json.loads(shell(API, TOKEN=key["token"], RECEIVER=receiver.url))
        step(
            f"GET /api/schema/ answered 200 ({api['paths']} paths) with no REST_FRAMEWORK "
            f"setting; POST /api/webhooks/ subscribed webhook {api['webhook']}"
        )
        step("one real delivery: a qcluster, an order saved in a transaction, a signed POST")
        started = time.monotonic()
        with qcluster(python, project, env) as output:
            order_id = int(shell(SAVE_ORDER))
            try:
                path, headers, body = receiver.requests.get(timeout=TIMEOUT)
            except queue.Empty:
                sys.exit(
                    f"release-check: no delivery within {TIMEOUT:.0f} s; qcluster said:\n"
                    + "\n".join(output[-40:])
                )
        elapsed = time.monotonic() - started
    finally:
        receiver.shutdown()
        receiver.server_close()

    headers = {name.lower(): value for name, value in headers.items()}
    payload = Webhook(key["signing_secret"]).verify(body, headers)  # raises if forged
    assert path == "/hooks/orders", path
    assert headers["x-webhook-event"] == "order.created", headers
    assert headers["user-agent"].startswith("django-webhooks/"), headers
    assert payload["type"] == "order.created", payload
    assert payload["data"]["object"]["id"] == order_id, payload
    assert payload["data"]["object"]["number"] == "T-1", payload
    assert headers["webhook-id"] == payload["id"], (headers, payload)
    step(
        f"delivered and verified with standardwebhooks: {payload['type']} {payload['id']} "
        f"(order {order_id}), {elapsed:.1f} s from the qcluster's start"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--outdir",
        type=Path,
        help="copy the checked sdist and wheel there (for an upload; outside the checkout)",
    )
    options = parser.parse_args()

    before = checkout_state()
    work = Path(tempfile.mkdtemp(prefix="django-webhooks-release-"))
    started = time.monotonic()
    try:
        files = exported_files()
        source = work / "source"
        export(files, source)
        step(f"exported {len(files)} files of the checkout to {source}")
        sdist, wheel = build(source, work / "dist")
        check_sdist(sdist, files)
        check_wheel(wheel, source)
        throwaway_store(wheel, work)
        if options.outdir:
            options.outdir.mkdir(parents=True, exist_ok=True)
            for artefact in (sdist, wheel):
                shutil.copy2(artefact, options.outdir)
            step(f"copied {sdist.name} and {wheel.name} to {options.outdir}")
    finally:
        if options.keep:
            step(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    after = checkout_state()
    if after - before:
        sys.exit(f"release-check: left in the checkout: {sorted(after - before)}")
    step(f"passed in {time.monotonic() - started:.0f} s; the checkout is unchanged")


if __name__ == "__main__":
    main()
