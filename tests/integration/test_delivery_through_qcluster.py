"""CONTRACT §4-§6 for real: a running qcluster, a real receiver on 127.0.0.1, scaled delays.

Runs on SQLite + ORM broker and again on PostgreSQL + Redis (``make test``).
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections import Counter

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook as StandardWebhook

from django_webhooks.models import DeliveryAttempt, Event, Webhook
from example_project.shop.models import Order, OrderItem
from tests import artifacts
from tests.cluster import Cluster, wait_until
from tests.integration.conftest import FAST
from tests.receiver import Drip, Redirect, Status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DELAYS = FAST["RETRY_DELAYS"]
LATE_AT_MOST = 2.0  # seconds, CONTRACT §6.3 with a running cluster
DEACTIVATING = [400, 401, 403, 404, 405, 406, 410, 411]


def subscribe(api_key, url, events=("order.created",), **fields):
    return Webhook.objects.create(api_key=api_key, url=url, events=list(events), **fields)


def attempts_of(webhook_id):
    return list(DeliveryAttempt.objects.filter(webhook_id=webhook_id).order_by("number"))


def assert_schedule(webhook, requests, delays=DELAYS) -> list[float]:
    """Retry n+1 arrived ``delays[n-1]`` after attempt n ended: never early, at most 2 s late.

    Returns how late each retry arrived.
    """
    attempts = attempts_of(webhook.pk)
    lateness = []
    for number, (previous, arrived) in enumerate(itertools.pairwise(attempts), start=1):
        due = previous.finished_at.timestamp() + delays[number - 1]
        assert arrived.scheduled_for.timestamp() == pytest.approx(due, abs=0.001)
        arrival = requests[number].arrived_at
        assert arrival >= due, f"attempt {number + 1} went {due - arrival:.3f} s early"
        late = arrival - due
        assert late <= LATE_AT_MOST, f"attempt {number + 1} went {late:.3f} s late"
        lateness.append(late)
    return lateness


def test_every_answer_is_judged_per_the_policy(cluster, receiver, api_key):
    hooks = {
        "ok": subscribe(api_key, receiver.script("/ok", [Status(200)])),
        "flaky": subscribe(api_key, receiver.script("/flaky", [Status(503), Status(200)])),
        "error": subscribe(api_key, receiver.script("/error", [Status(500, b"down")])),
        "slow": subscribe(api_key, receiver.script("/slow", [Status(200, delay=1.5)])),
        "drip": subscribe(api_key, receiver.script("/drip", [Drip(interval=0.3)])),
        "redirect": subscribe(
            api_key, receiver.script("/redirect", [Redirect(receiver.url("/ok-target"))])
        ),
        "phrase": subscribe(
            api_key, receiver.script("/phrase", [Status(200, b"Please UNSUBSCRIBE me")])
        ),
        "xml": subscribe(api_key, receiver.script("/xml", [Status(200)]), format="xml"),
    }
    for code in DEACTIVATING:
        hooks[code] = subscribe(api_key, receiver.script(f"/{code}", [Status(code)]))

    with transaction.atomic():
        order = Order.objects.create(note="integration")
        OrderItem.objects.create(order=order, sku="A-1", name="Anvil")
    committed = time.time()

    # Six attempts where every answer fails, and never a seventh.
    for path in ("/error", "/slow", "/drip", "/redirect"):
        receiver.wait_for(6, path, timeout=sum(DELAYS) + 6 * FAST["TIMEOUT"] + 10)
    wait_until(
        lambda: not DeliveryAttempt.objects.filter(status__in=["scheduled", "sending"]).exists(),
        timeout=15,
        message="attempts still pending",
    )
    time.sleep(DELAYS[-1] + 1)  # a 7th attempt would be due by now: prove it never comes
    lateness = []
    for path in ("/error", "/slow", "/drip", "/redirect"):
        requests = receiver.received(path)
        assert len(requests) == 6, path
        assert [int(r.headers["X-Webhook-Attempt"]) for r in requests] == [1, 2, 3, 4, 5, 6]
        assert len({r.headers["webhook-id"] for r in requests}) == 1
        lateness += assert_schedule(hooks[path.strip("/")], requests)
    assert receiver.received("/ok-target") == []  # redirects are never followed

    # The first attempt left right after the commit.
    (first_ok,) = receiver.received("/ok")
    assert first_ok.arrived_at - committed < 1.0
    lateness.sort()
    artifacts.report(
        "timing.json",
        "retries through a running qcluster",
        retries=len(lateness),
        lateness_ms_min=round(lateness[0] * 1000),
        lateness_ms_median=round(statistics.median(lateness) * 1000),
        lateness_ms_max=round(lateness[-1] * 1000),
        first_attempt_after_commit_ms=round((first_ok.arrived_at - committed) * 1000),
    )

    # Every request is signed with the key's secret and carries the committed order + items.
    verifier = StandardWebhook(api_key.signing_secret)
    for request in receiver.received("/ok") + receiver.received("/error"):
        envelope = verifier.verify(request.body, request.headers)
        assert envelope["type"] == "order.created"
        assert envelope["data"]["object"]["items"][0]["sku"] == "A-1"
    assert b"<sku>A-1</sku>" in receiver.received("/xml")[0].body

    def statuses(name):
        return [a.status for a in attempts_of(hooks[name].pk)]

    assert statuses("ok") == ["succeeded"]
    assert statuses("flaky") == ["failed", "succeeded"]
    assert statuses("error") == ["failed"] * 6
    for name, fragment in [
        ("slow", "No complete answer within 1 s"),
        ("drip", "No complete answer within 1 s"),
        ("redirect", "Redirect to"),
        ("error", "HTTP 500"),
    ]:
        assert all(fragment in a.error for a in attempts_of(hooks[name].pk)), name
    drip_durations = [a.duration_ms for a in attempts_of(hooks["drip"].pk)]
    assert max(drip_durations) < 1000 * FAST["TIMEOUT"] + 500, drip_durations

    for code in DEACTIVATING:
        webhook = Webhook.objects.get(pk=hooks[code].pk)
        assert webhook.is_active is False, code
        assert [a.response_status for a in attempts_of(webhook.pk)] == [code]
        assert len(receiver.received(f"/{code}")) == 1

    assert not Webhook.objects.filter(pk=hooks["phrase"].pk).exists()
    (kept,) = DeliveryAttempt.objects.filter(url=hooks["phrase"].url)
    assert kept.webhook_id is None
    assert kept.response_status == 200
    assert len(receiver.received("/phrase")) == 1


def test_a_rolled_back_order_sends_nothing(cluster, receiver, api_key):
    subscribe(api_key, receiver.url("/ok"), events=["order.created", "order.status_changed"])

    def order_then_rollback():
        with transaction.atomic():
            Order.objects.create(note="rolled back")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        order_then_rollback()
    kept = Order.objects.create(note="kept")
    kept.status = Order.Status.PAID
    kept.save()
    requests = receiver.wait_for(2, "/ok")
    # What the rollback recorded would have gone first; only the kept order's events came.
    assert sorted(r.headers["X-Webhook-Event"] for r in requests) == [
        "order.created",
        "order.status_changed",
    ]
    assert {json.loads(r.body)["data"]["object"]["note"] for r in requests} == {"kept"}
    assert DeliveryAttempt.objects.count() == 2


def test_a_lost_wake_up_is_swept_up(cluster, receiver, api_key, django_db_blocker):
    from django_q.brokers import get_broker

    # The module's cluster would take the wake-up before it is lost (and sweep it up itself).
    cluster.stop()
    subscribe(api_key, receiver.url("/ok"))
    Order.objects.create()
    get_broker().purge_queue()  # the wake-up message is lost (a broker restart, say)
    assert Event.objects.get().dispatched_at is None
    with Cluster(FAST, workers=1):
        receiver.wait_for(1, "/ok", timeout=10)
    assert DeliveryAttempt.objects.get().status == "succeeded"


def test_two_clusters_never_send_one_attempt_twice(receiver, api_key):
    subscribe(api_key, receiver.url("/ok"))
    with Cluster(FAST, workers=2), Cluster(FAST, workers=2):
        orders = [Order.objects.create() for _ in range(200)]
        requests = receiver.wait_for(200, "/ok", timeout=60)
        wait_until(lambda: DeliveryAttempt.objects.filter(status="succeeded").count() == 200)
    ids = Counter(r.headers["webhook-id"] for r in receiver.received("/ok"))
    assert len(ids) == len(orders) == len(requests)
    assert max(ids.values()) == 1
