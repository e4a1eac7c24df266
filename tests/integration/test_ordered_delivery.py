"""An ordered webhook through real qclusters: two of them, one SIGKILLed mid-run, a receiver
that refuses some first attempts. Per object, the sequence numbers the receiver saw never go
down, and every event arrived."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import pytest

from django_webhooks import events
from django_webhooks.models import DeliveryAttempt, Event, Webhook
from example_project.shop.models import Order
from tests import artifacts
from tests.cluster import Cluster, wait_until
from tests.integration.conftest import FAST
from tests.receiver import Behaviour, Received, Status

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORDERS = 30
EVENTS_PER_ORDER = 6  # created; updated + status_changed; updated; updated + status_changed


def refused(headers: dict[str, str]) -> bool:
    """A quarter of the events have their first attempt refused (and retried 0.5 s later)."""
    digest = hashlib.sha256(headers.get("webhook-id", "").encode()).digest()
    return headers.get("X-Webhook-Attempt") == "1" and digest[0] % 4 == 0


class RefuseSomeFirstAttempts(Behaviour):
    def respond(self, handler, receiver) -> None:
        code = 503 if refused(dict(handler.headers.items())) else 200
        Status(code, delay=0.02).respond(handler, receiver)


def parsed(request: Received) -> dict | None:
    declared = request.headers.get("Content-Length")
    if declared is not None and len(request.body) != int(declared):
        return None  # cut off: its sender was killed mid-request
    return json.loads(request.body)


def test_an_ordered_webhook_gets_each_objects_events_in_order_through_a_sigkill(receiver, api_key):
    url = receiver.script("/ordered", [RefuseSomeFirstAttempts()])
    Webhook.objects.create(
        api_key=api_key, url=url, events=sorted(events.ORDER_EVENT_TYPES), ordered=True
    )
    doomed, survivor = Cluster(FAST, workers=2).start(), Cluster(FAST, workers=2).start()
    try:
        orders = [Order.objects.create() for _ in range(ORDERS)]
        for order in orders:
            order.status = Order.Status.PAID
            order.save()
        receiver.wait_for(40, "/ordered", timeout=60)
        doomed.kill()  # SIGKILL mid-run: its claims are recovered by the survivor
        arrived_before_kill = len(receiver.received("/ordered"))
        for order in orders:
            order.note = "gift"
            order.save()
        for order in orders:
            order.status = Order.Status.COMPLETE
            order.save()
        total = ORDERS * EVENTS_PER_ORDER
        assert Event.objects.count() == total

        def accepted() -> set[str]:
            return {
                r.headers["webhook-id"]
                for r in receiver.received("/ordered")
                if not refused(r.headers) and parsed(r) is not None
            }

        wait_until(lambda: len(accepted()) == total, timeout=120, message="events missing")
        wait_until(
            lambda: (
                not DeliveryAttempt.objects.filter(status__in=["scheduled", "sending"]).exists()
            ),
            timeout=30,
        )
    finally:
        doomed.kill()
        survivor.stop()

    seen: dict[int, list[int]] = defaultdict(list)
    for request in receiver.received("/ordered"):
        body = parsed(request)
        if body is not None:
            seen[body["data"]["object"]["id"]].append(body["sequence"])
    assert set(seen) == {order.pk for order in orders}
    for order_id, numbers in seen.items():
        assert numbers == sorted(numbers), f"order {order_id} went back: {numbers}"
        assert set(numbers) == set(range(1, EVENTS_PER_ORDER + 1)), (order_id, numbers)
    assert {e.pk for e in Event.objects.all()} == accepted()
    refusals = sum(refused(r.headers) for r in receiver.received("/ordered"))
    assert refusals > 0  # the receiver really failed some attempts
    assert 0 < arrived_before_kill < total
    artifacts.report(
        "faults.json",
        "ordered webhook, two clusters, one SIGKILLed",
        events=total,
        requests=len(receiver.received("/ordered")),
        refused=refusals,
        arrived_before_kill=arrived_before_kill,
        out_of_order=0,
    )
