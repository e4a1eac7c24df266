"""The benchmark's real parts: a database of its own, the fast receiver, a qcluster.

Call :func:`configure` before anything imports Django models: it points tests.settings at the
benchmark's own database and queue name (so a benchmark never meets a test run's rows or
wake-ups), sets Django up and migrates.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
CHECKOUT = hashlib.sha256(str(ROOT / "tests").encode()).hexdigest()[:8]


def configure(deployment: str) -> str:
    """Environment, database and Django for ``deployment``; returns a description of it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["WEBHOOKS_TEST_DEPLOYMENT"] = deployment
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["Q_CLUSTER_NAME"] = f"webhooks-bench-{CHECKOUT}"
    if deployment == "postgres":
        name = f"webhooks_bench_{CHECKOUT}"
        _recreate_postgres_database(name)
    else:
        name = os.path.join(tempfile.gettempdir(), f"django-webhooks-bench-{CHECKOUT}.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
    os.environ["WEBHOOKS_TEST_DB_NAME"] = name

    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("django-q").setLevel(logging.WARNING)  # one line per wake-up otherwise
    call_command("migrate", verbosity=0)
    from django.db import connection

    with connection.cursor() as cursor:
        if deployment == "postgres":
            cursor.execute("SHOW server_version")
            version = f"PostgreSQL {cursor.fetchone()[0]} + Redis broker"
        else:
            cursor.execute("SELECT sqlite_version()")
            version = f"SQLite {cursor.fetchone()[0]} (WAL, synchronous=NORMAL) + ORM broker"
    return version


def _recreate_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=os.environ.get("PGPORT", "5432"),
        user=os.environ.get("PGUSER", "postgres"),
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


@functools.cache
def _broker(cluster: str | None) -> Any:
    from django_q.brokers import get_broker

    return get_broker(cluster)


def reset_tables() -> None:
    """Forget every order, event, attempt and webhook, and the queue's pending wake-ups."""
    from django.conf import settings
    from django.db import connection

    from django_webhooks.models import AttemptTally, DeliveryAttempt, Event, Pacing, Webhook
    from example_project.shop.models import Order, OrderItem

    models = (DeliveryAttempt, Event, Pacing, Webhook, OrderItem, Order, AttemptTally)
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    _broker(settings.WEBHOOKS.get("QUEUE_CLUSTER")).purge_queue()  # the wake-ups' queue


def subscribe(urls: list[str], events: list[str]) -> list:
    from django_webhooks.models import ApiKey, Webhook

    api_key = ApiKey.objects.default()
    return Webhook.objects.bulk_create(
        [Webhook(api_key=api_key, url=url, events=events) for url in urls]
    )


class ReceiverProcess:
    """bench/receiver.py in a process of its own, and its control calls."""

    def __init__(self, slow_ms: float = 50.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "receiver.py"), "--slow-ms", str(slow_ms)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the receiver did not start: {line!r}")
        self.port = int(line.split()[1])
        self.ps = psutil.Process(self.process.pid)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _get(self, path: str, timeout: float = 10.0) -> Any:
        with urllib.request.urlopen(self.url(path), timeout=timeout) as answer:
            return json.loads(answer.read())

    def reset(self) -> None:
        self._get("/_reset")

    def stats(self) -> dict:
        return self._get("/_stats")

    def wait(self, prefix: str, count: int, timeout: float, *, strict: bool = True) -> dict:
        """Block until ``count`` requests arrived under ``prefix``; their last arrival time.

        ``prefix`` ``/cap:200``: until ``count`` were answered 200 there. ``strict=False``:
        the answer, ``reached`` or not, rather than a TimeoutError.
        """
        answer = self._get(f"/_wait?prefix={prefix}&count={count}&timeout={timeout}", timeout + 5)
        if strict and not answer["reached"]:
            raise TimeoutError(f"{answer['count']} of {count} requests to {prefix} in {timeout} s")
        return answer

    def arrivals(self, prefix: str) -> list[tuple[str, float]]:
        return [tuple(item) for item in self._get(f"/_arrivals?prefix={prefix}")]

    def answers(self, prefix: str) -> list[tuple[str, float, int]]:
        """The ``webhook-id``, time and status of each answer given under ``prefix``."""
        return [tuple(item) for item in self._get(f"/_answers?prefix={prefix}")]

    def fault(
        self, prefix: str, *, after: float, seconds: float, retry_after: int | None = None
    ) -> tuple[float, float]:
        """``prefix`` answers 503 at once from ``after`` s from now for ``seconds``; when."""
        query = f"/_fault?prefix={prefix}&after={after}&seconds={seconds}"
        if retry_after is not None:
            query += f"&retry_after={retry_after}"
        answer = self._get(query)
        return answer["from"], answer["until"]

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start_cluster(overrides: dict | None = None, workers: int = 2):
    from tests.cluster import Cluster

    return Cluster(overrides or {}, workers=workers).start(timeout=60)


def cluster_processes(cluster) -> list[psutil.Process]:
    root = psutil.Process(cluster.process.pid)
    return [root, *root.children(recursive=True)]


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"Python {sys.version.split()[0]}"
    )
