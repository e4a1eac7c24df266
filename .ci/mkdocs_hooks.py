"""MkDocs hooks (mkdocs.yml ``hooks:``): one site from docs/ and the repository's root pages.

* README.md becomes the home page; CHANGELOG.md, CONTRIBUTING.md and SECURITY.md pages of
  their own. They stay where GitHub shows them; the site reads them from there.
* Relative links are written for GitHub (``docs/sources.md`` in the README,
  ``../SECURITY.md`` in docs/security.md). On the site, a link to a file the site has is
  pointed at its page; a link to any other file of the repository (``../tests/x.py``) at that
  file on GitHub; a link to a file that does not exist is a warning, so ``mkdocs build
  --strict`` fails on it.
* ``<!-- management-commands -->`` in a page becomes the reference of the app's management
  commands: each one's docstring, help and options, read from its argument parser.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("mkdocs.hooks.django_webhooks")

#: Repository files shown as pages of their own: repository path -> page.
ROOT_PAGES = {
    "README.md": "index.md",
    "CHANGELOG.md": "changelog.md",
    "CONTRIBUTING.md": "contributing.md",
    "SECURITY.md": "security-policy.md",
}
DOCS = "docs"
COMMANDS_MARKER = "<!-- management-commands -->"
LINK = re.compile(r"(!?\[[^\]\n]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
REFERENCE = re.compile(r"^(\[[^\]\n]+\]:\s*)(\S+)(.*)$", re.M)
FENCE = re.compile(r"^\s*(```|~~~)")

#: Repository path -> path on the site, for every file the site has (filled by on_files).
SITE: dict[str, str] = {}


def on_files(files: Files, config) -> Files:
    for source, page in ROOT_PAGES.items():
        files.append(File.generated(config, page, abs_src_path=str(ROOT / source)))
    SITE.clear()
    for file in files:
        SITE[posixpath.join(DOCS, file.src_uri)] = file.src_uri
    for source, page in ROOT_PAGES.items():
        SITE[source] = page
    return files


def repository_path(page_uri: str) -> str:
    """Where the page's Markdown lives in the repository."""
    for source, page in ROOT_PAGES.items():
        if page == page_uri:
            return source
    return next(repo for repo, site in SITE.items() if site == page_uri)


def rewrite(target: str, page_uri: str, repo_url: str) -> str:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
        return target
    path, hash_, anchor = target.partition("#")
    here = posixpath.dirname(repository_path(page_uri))
    repo = posixpath.normpath(posixpath.join(here, path))
    if repo in SITE:
        relative = posixpath.relpath(SITE[repo], posixpath.dirname(page_uri) or ".")
        return relative + hash_ + anchor
    if not repo.startswith("..") and (ROOT / repo).exists():
        kind = "tree" if (ROOT / repo).is_dir() else "blob"
        return f"{repo_url.rstrip('/')}/{kind}/main/{repo}{hash_}{anchor}"
    if not repo.startswith(DOCS + "/"):  # MkDocs itself reports a missing page of docs/
        log.warning("%s: a link to %s, which is not in the repository", page_uri, target)
    return target


def on_page_markdown(markdown: str, page, config, files) -> str:
    repo_url = config["repo_url"]
    page_uri = page.file.src_uri
    lines, fenced = [], False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            line = LINK.sub(
                lambda m: m[1] + rewrite(m[2], page_uri, repo_url) + m[3],
                line,
            )
            line = REFERENCE.sub(
                lambda m: m[1] + rewrite(m[2], page_uri, repo_url) + m[3],
                line,
            )
        lines.append(line)
    markdown = "\n".join(lines)
    if COMMANDS_MARKER in markdown:
        markdown = markdown.replace(COMMANDS_MARKER, management_commands())
    return markdown


# The management commands' reference, from their parsers.

#: Options every Django command has; the reference lists each command's own.
COMMON_OPTIONS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}


def setup_django() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "django.contrib.auth",
                "rest_framework",
                "django_q",
                "django_webhooks",
            ],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            Q_CLUSTER={"name": "docs", "orm": "default", "timeout": 60, "retry": 120},
            USE_TZ=True,
        )
        django.setup()


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def management_commands() -> str:
    setup_django()
    import importlib

    from django.core.management import get_commands, load_command_class

    names = sorted(name for name, app in get_commands().items() if app == "django_webhooks")
    out = []
    for name in names:
        module = importlib.import_module(f"django_webhooks.management.commands.{name}")
        command = load_command_class("django_webhooks", name)
        parser = command.create_parser("manage.py", name)
        out += [f"### `{name}`", ""]
        doc = (module.__doc__ or "").strip()
        if not doc:
            log.warning("django_webhooks.management.commands.%s has no docstring", name)
        out += [doc, "", cell(str(command.help)), ""]
        own = [action for action in parser._actions if action.dest not in COMMON_OPTIONS]
        formatter = parser._get_formatter()
        formatter.add_usage(None, own, [], prefix="")
        out += ["```text", " ".join(formatter.format_help().split()), "```", ""]
        rows = [
            (", ".join(action.option_strings) or action.metavar or action.dest, action.help)
            for action in own
        ]
        if rows:
            out += ["| argument | meaning |", "|---|---|"]
            for argument, help_text in rows:
                if not help_text:
                    log.warning("manage.py %s %s has no help text", name, argument)
                out.append(f"| `{argument}` | {cell(str(help_text or ''))} |")
            out.append("")
    return "\n".join(out)
