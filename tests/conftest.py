from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from django.conf import settings

from tests.receiver import Receiver

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
    from django_webhooks.models import ApiKey

    key, _token = ApiKey.objects.create_key(name="Accounting")
    return key


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
    """Record queue wake-ups instead of enqueuing django-q2 tasks."""
    calls: list[str] = []
    monkeypatch.setattr("django_webhooks.wakeup.wake", lambda using="default": calls.append(using))
    return calls


@pytest.fixture(autouse=True)
def every_commit_wakes(monkeypatch):
    """Unit tests see each commit's wake-up; tests/integration keep the real debounce."""
    monkeypatch.setattr("django_webhooks.timing.WAKE_DEBOUNCE_SECONDS", 0)
