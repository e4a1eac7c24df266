"""Nothing lost when things break: killed clusters, a broker outage, dropped connections.

Each test asserts every event arrived at least once and that duplicates carry the same
``webhook-id`` (a receiver can drop them); it also writes what it measured to
``test-artifacts/faults.json`` for the issue's note.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections import Counter

import pytest
from django.db import connection

from django_webhooks.models import DeliveryAttempt, Event, Webhook
from example_project.shop.models import Order
from tests import artifacts
from tests.cluster import Cluster, cluster_of, wait_until
from tests.integration.conftest import FAST
from tests.receiver import Status

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def report(name: str, **figures) -> None:
    artifacts.report("faults.json", name, **figures)


def arrivals(receiver, path="/slow") -> Counter:
    return Counter(request.headers["webhook-id"] for request in receiver.received(path))


def test_a_cluster_killed_mid_flight_loses_nothing(receiver, api_key):
    url = receiver.script("/slow", [Status(200, delay=0.3)])
    Webhook.objects.create(api_key=api_key, url=url, events=["order.created"])
    cluster = Cluster(FAST, workers=2).start()
    orders = [Order.objects.create() for _ in range(150)]
    receiver.wait_for(30, "/slow", timeout=30)
    cluster.kill()  # SIGKILL: sentinel, workers, pusher, monitor, tickers
    in_flight = DeliveryAttempt.objects.filter(status="sending").count()
    arrived_before = len(receiver.received("/slow"))
    restarted = time.monotonic()
    with Cluster(FAST, workers=2):
        wait_until(lambda: len(arrivals(receiver)) == len(orders), timeout=60)
        recovered = time.monotonic() - restarted
        wait_until(lambda: DeliveryAttempt.objects.filter(status="succeeded").count() == 150)
    ids = arrivals(receiver)
    assert len(ids) == len(orders)  # every event arrived
    assert DeliveryAttempt.objects.exclude(status="succeeded").count() == 0
    duplicates = sum(count - 1 for count in ids.values())
    assert in_flight > 0  # the kill really caught deliveries mid-flight
    report(
        "SIGKILL the whole cluster mid-flight",
        events=len(orders),
        in_flight_at_kill=in_flight,
        arrived_before_kill=arrived_before,
        arrived=len(ids),
        duplicates=duplicates,
        recovery_seconds=round(recovered, 2),
    )


#: Eight threads a run (four for the one key) and a receiver that takes 30 ms: one run cannot
#: keep up with 2,000 deliveries, so it asks for help and the other workers join in (a run
#: alone at a fast local receiver could drain it all, and the test would not test two clusters).
SATURATED = {**FAST, "CONCURRENCY": 8}


def test_two_clusters_drain_2000_deliveries_without_a_duplicate(receiver, api_key):
    for number in range(10):
        Webhook.objects.create(
            api_key=api_key,
            url=receiver.script(f"/hook/{number}", [Status(200, delay=0.03)]),
            events=["order.created"],
        )
    started = time.monotonic()
    with Cluster(SATURATED, workers=2) as first, Cluster(SATURATED, workers=2) as second:
        for _ in range(200):
            Order.objects.create()
        receiver.wait_for(2000, timeout=180)
        wait_until(
            lambda: DeliveryAttempt.objects.filter(status="succeeded").count() == 2000, timeout=30
        )
        claimants = set(DeliveryAttempt.objects.values_list("claimed_by", flat=True))
        clusters = {cluster_of(claimant, [first, second]) for claimant in claimants}
    elapsed = time.monotonic() - started
    sent = Counter((request.path, request.headers["webhook-id"]) for request in receiver.received())
    assert len(sent) == 2000
    twice = {(path, event_id) for (path, event_id), count in sent.items() if count > 1}
    assert not twice, [
        (
            path,
            list(
                DeliveryAttempt.objects.filter(
                    event_id=event_id, url=receiver.url(path)
                ).values_list(
                    "pk", "number", "status", "claims", "claimed_by", "started_at", "finished_at"
                )
            ),
            [
                r.arrived_at
                for r in receiver.received()
                if r.path == path and r.headers["webhook-id"] == event_id
            ],
        )
        for path, event_id in list(twice)[:3]
    ]
    assert {0, 1} <= clusters, clusters  # both really took part (None: a recycled worker)
    report(
        "two clusters, 2,000 deliveries",
        deliveries=2000,
        arrived=len(sent),
        duplicates=0,
        workers_that_sent=len(claimants),
        clusters_that_sent=len(clusters),
        seconds=round(elapsed, 1),
    )


@pytest.mark.postgres
def test_a_workers_dropped_database_connection_loses_nothing(receiver, api_key):
    url = receiver.script("/slow", [Status(200, delay=0.2)])
    Webhook.objects.create(api_key=api_key, url=url, events=["order.created"])
    with Cluster(FAST, workers=2):
        orders = [Order.objects.create() for _ in range(100)]
        receiver.wait_for(20, "/slow", timeout=30)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            dropped = cursor.rowcount
        dropped_at = time.monotonic()
        wait_until(lambda: len(arrivals(receiver)) == len(orders), timeout=60)
        recovered = time.monotonic() - dropped_at
    assert dropped > 0
    ids = arrivals(receiver)
    assert len(ids) == len(orders)
    report(
        "worker database connections dropped",
        events=len(orders),
        connections_dropped=dropped,
        arrived=len(ids),
        duplicates=sum(count - 1 for count in ids.values()),
        recovery_seconds=round(recovered, 2),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own, so stopping it leaves the shared one alone."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def _answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True


@pytest.mark.postgres
@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_a_redis_outage_delays_deliveries_but_loses_none(receiver, api_key, monkeypatch):
    from django_q.conf import Conf

    from django_webhooks import wakeup

    redis = RedisServer()
    redis.start()
    # This process's wake-ups go to the same (private) Redis as the cluster's.
    monkeypatch.setattr(Conf, "REDIS", redis.url)
    monkeypatch.setattr(wakeup._broker, "_instances", {})
    Webhook.objects.create(api_key=api_key, url=receiver.url("/ok"), events=["order.created"])
    cluster = Cluster(FAST, workers=2, env={"REDIS_URL": redis.url}).start()
    try:
        before = [Order.objects.create() for _ in range(20)]
        receiver.wait_for(20, "/ok", timeout=20)
        redis.stop()
        during = [Order.objects.create() for _ in range(30)]  # saves must keep working
        redis.start()
        back = time.monotonic()
        wait_until(lambda: len(arrivals(receiver, "/ok")) == 50, timeout=60)
        recovered = time.monotonic() - back
    finally:
        cluster.stop()
        redis.stop()
    ids = arrivals(receiver, "/ok")
    assert len(ids) == len(before) + len(during)
    # Most of the recovery is django-q2's: its pusher sleeps 10 s after a broker error.
    report(
        "Redis stopped while orders are saved",
        events=len(before) + len(during),
        saved_during_outage=len(during),
        arrived=len(ids),
        duplicates=sum(count - 1 for count in ids.values()),
        recovery_seconds_after_redis_back=round(recovered, 2),
    )


def test_saving_orders_never_fails_when_the_broker_is_unreachable(api_key, monkeypatch):
    from django_webhooks import wakeup

    def broken_broker(cluster):
        raise ConnectionError("broker down")

    monkeypatch.setattr(wakeup, "_broker", broken_broker)
    Webhook.objects.create(api_key=api_key, url="https://a.example.com/", events=["order.created"])
    order = Order.objects.create()  # the wake-up fails quietly
    (event,) = Event.objects.all()  # and the event waits in the outbox for the ticker
    assert event.object_pk == str(order.pk)
    assert event.dispatched_at is None
