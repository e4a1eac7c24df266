from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import responses
from django.conf import settings

from tests.receiver import Receiver, loopback_only

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES = settings.DEPLOYMENT == "postgres"
OSCAR_SHOP = Path(__file__).resolve().parent / "oscar"


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def pytest_ignore_collect(collection_path, config):
    # A django-oscar shop with settings of its own: `make test-oscar` (tests/oscar/plugin.py).
    if collection_path.resolve() == OSCAR_SHOP and not config.pluginmanager.has_plugin(
        "tests.oscar.plugin"
    ):
        return True
    return None


def pytest_collection_modifyitems(config, items) -> None:
    if POSTGRES:
        missing = [
            name
            for name, host, port in [
                ("PostgreSQL", settings.DATABASES["default"]["HOST"], 5432),
                ("Redis", "127.0.0.1", 6379),
            ]
            if not _reachable(host, int(port))
        ]
        if missing:
            reason = f"{' and '.join(missing)} not reachable on 127.0.0.1"
            if IN_CI:
                pytest.exit(f"CI=true but {reason}: the deployment tests cannot run.", returncode=1)
            skip = pytest.mark.skip(reason=f"{reason}: start them to run the deployment tests")
            for item in items:
                item.add_marker(skip)
        return
    skip_postgres = pytest.mark.skip(
        reason="needs the PostgreSQL + Redis deployment: runs under `make test` "
        "(WEBHOOKS_TEST_DEPLOYMENT=postgres)"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip_postgres)


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def api_key(db):
    from tests.factories import make_key

    key, _client = make_key("Accounting")
    return key


@pytest.fixture
def accounting(db):
    """An API key and a client that calls the API with it."""
    from tests.factories import make_key

    return make_key("Accounting")


@pytest.fixture
def warehouse(db):
    """A second API key, with its client: it must not see the first one's things."""
    from tests.factories import make_key

    return make_key("Warehouse")


@pytest.fixture
def webhook(request, db, woken):
    """A webhook (wake-ups recorded by ``woken``), made by ``factories.make_webhook``.

    ``@pytest.mark.webhook(**fields)`` on the test or its module says what it is made with;
    ``default_key=True`` gives it the Default API key instead of the ``api_key`` fixture's.
    """
    from django_webhooks.models import ApiKey
    from tests.factories import make_webhook

    marker = request.node.get_closest_marker("webhook")
    fields = dict(marker.kwargs) if marker else {}
    if fields.pop("default_key", False):
        key = ApiKey.objects.default()
    else:
        key = request.getfixturevalue("api_key")
    return make_webhook(key, **fields)


@pytest.fixture
def rotated_key_rows(db):
    """An API key whose secret was rotated (two secrets to leak), a webhook of it, and a failed
    attempt whose request headers hold a signature: ``(api_key, webhook, attempt)``."""
    from django_webhooks.models import ApiKey
    from tests.factories import Status, make_attempt, make_webhook

    api_key, _token = ApiKey.objects.create_key(name="Warehouse")
    api_key.rotate_signing_secret()
    webhook = make_webhook(api_key, url="https://partner.example/hooks", events=["order.created"])
    attempt = make_attempt(
        webhook,
        Status.FAILED,
        response_status=500,
        request_headers={"webhook-signature": "v1,AbCdEfGh…"},
    )
    return api_key, webhook, attempt


@pytest.fixture
def fresh_throttle_counts():
    """Forget the API's throttle counts (kept in the cache) before and after the test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


class Clock:
    """A wall clock the test moves by hand (``django.utils.timezone.now``)."""

    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    from datetime import UTC, datetime

    fake = Clock(datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC))
    monkeypatch.setattr("django.utils.timezone.now", fake)
    return fake


@pytest.fixture
def woken(monkeypatch):
    """Record queue wake-ups instead of enqueuing django-q2 tasks; each one succeeds."""
    calls: list[str] = []

    def wake(using: str = "default") -> bool:
        calls.append(using)
        return True

    monkeypatch.setattr("django_webhooks.wakeup.wake", wake)
    return calls


@pytest.fixture
def transport():
    from django_webhooks.transport import Transport

    session = Transport()
    yield session
    session.session.close()


@pytest.fixture
def connected():
    """The addresses the transport connected to; only loopback ones can be."""
    with loopback_only() as addresses:
        yield addresses


@pytest.fixture
def http_mock():
    """requests answered by ``responses`` (no real connection)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def every_commit_wakes(monkeypatch):
    """Unit tests see each commit's wake-up; tests/integration keep the real debounce."""
    monkeypatch.setattr("django_webhooks.timing.WAKE_DEBOUNCE_SECONDS", 0)
