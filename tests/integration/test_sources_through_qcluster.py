"""The delivery guarantees on a store unlike the example (tests/teststore), for real.

A qcluster with the test store's SOURCES delivers to a real receiver: after commit only, a
rollback sends nothing, ``previous`` is right, one event per changed value per transaction,
item filters on lines under another name, ``send_event(instance=…)`` and ``update()``.
Runs on SQLite + ORM broker and on PostgreSQL + Redis (``make test``).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings

from django_webhooks import events, send_event, update
from django_webhooks.models import DeliveryAttempt, Event, Webhook
from tests.cluster import Cluster, wait_until
from tests.integration.conftest import FAST
from tests.teststore import settings as teststore
from tests.teststore.models import Payment, Purchase, PurchaseLine, Shipment, ShipmentLine

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WEBHOOKS = {**teststore.WEBHOOKS, **FAST, "ALLOW_PRIVATE_DESTINATIONS": True}
REMINDED = "purchase.reminded"


@pytest.fixture(scope="module")
def teststore_cluster(django_db_setup, django_db_blocker):
    with override_settings(WEBHOOKS=WEBHOOKS), django_db_blocker.unblock():
        running = Cluster(WEBHOOKS, workers=2).start()
        yield running
        running.stop()


@pytest.fixture
def teststore_settings():
    events.register_event(REMINDED, "Purchase reminded")
    with override_settings(WEBHOOKS=WEBHOOKS):
        yield
    events.unregister_event(REMINDED)


def settled() -> bool:
    """Every event dispatched and every attempt finished."""
    return not Event.objects.filter(dispatched_at=None).exists() and not (
        DeliveryAttempt.objects.filter(status__in=["scheduled", "sending"]).exists()
    )


def bodies(receiver, path):
    return [json.loads(request.body) for request in receiver.received(path)]


def test_a_store_with_its_own_models_gets_the_same_guarantees(
    teststore_cluster, teststore_settings, receiver, api_key
):
    every = Webhook.objects.create(
        api_key=api_key,
        url=receiver.url("/every"),
        events=[event_type for event_type, _label in _purchase_types()] + [REMINDED],
    )
    every_xml = Webhook.objects.create(
        api_key=api_key, url=receiver.url("/every-xml"), events=every.events, format="xml"
    )
    acme = Webhook.objects.create(
        api_key=api_key,
        url=receiver.url("/acme"),
        events=["purchase.created"],
        filter={"items": {"supplier": "acme"}},
    )
    commits: dict[str, float] = {}

    with transaction.atomic():
        bought = Purchase.objects.create(reference="P-1", total=Decimal("30.00"))
        first = PurchaseLine.objects.create(purchase=bought, sku="AC-1", supplier="acme")
        PurchaseLine.objects.create(purchase=bought, sku="GL-1", supplier="globex")
    commits["purchase.created"] = time.time()

    with transaction.atomic():
        Payment.objects.create(purchase=bought, amount=Decimal("30.00"))
        transaction.set_rollback(True)  # the card was declined after all

    with transaction.atomic():
        Payment.objects.create(purchase=bought, amount=Decimal("10.00"))
        Payment.objects.create(purchase=bought, amount=Decimal("20.00"))
    commits["purchase.payment_changed"] = time.time()

    with transaction.atomic():
        shipment = Shipment.objects.create(purchase=bought)
        ShipmentLine.objects.create(shipment=shipment, line=first)
    commits["purchase.fulfilment_changed"] = time.time()

    bought.refresh_from_db()
    bought.analytics_tracked = True  # the thank-you page's save: no event
    bought.save()

    with transaction.atomic():
        send_event(REMINDED, {"channel": "mail"}, instance=bought)
    commits[REMINDED] = time.time()

    with transaction.atomic():
        update(Purchase.objects.filter(pk=bought.pk), state="complete")
    commits["purchase.state_changed"] = commits["purchase.updated"] = time.time()

    receiver.wait_for(len(commits), "/every", timeout=30)
    receiver.wait_for(len(commits), "/every-xml", timeout=30)
    receiver.wait_for(1, "/acme", timeout=30)
    wait_until(settled, timeout=30)

    got = {body["type"]: body for body in bodies(receiver, "/every")}
    assert sorted(got) == sorted(commits)  # nothing more, nothing twice
    assert len(receiver.received("/every")) == len(commits)
    for request in receiver.received("/every"):
        kind = json.loads(request.body)["type"]
        assert request.arrived_at >= commits[kind], f"{kind} arrived before its commit"

    paid = got["purchase.payment_changed"]["data"]
    assert paid["previous"] == {"payment_state": "unpaid"}
    assert paid["object"]["payment_state"] == "paid"
    shipped = got["purchase.fulfilment_changed"]["data"]
    assert shipped["previous"] == {"fulfilment": "unshipped"}
    assert shipped["object"]["fulfilment"] == "partly_shipped"
    assert got["purchase.state_changed"]["data"]["previous"] == {"state": "placed"}
    assert got["purchase.state_changed"]["data"]["object"]["state"] == "complete"
    reminded = got[REMINDED]["data"]
    assert reminded["channel"] == "mail"
    assert [line["sku"] for line in reminded["object"]["lines"]] == ["AC-1", "GL-1"]

    (acme_body,) = bodies(receiver, "/acme")
    assert [line["sku"] for line in acme_body["data"]["object"]["lines"]] == ["AC-1"]
    assert every.attempts.filter(status="succeeded").count() == len(commits)
    # The same events as XML (each checked against its type's XSD by the receiver).
    assert sorted(r.headers["X-Webhook-Event"] for r in receiver.received("/every-xml")) == sorted(
        commits
    )
    assert every_xml.attempts.filter(status="succeeded").count() == len(commits)
    assert acme.attempts.count() == 1


def _purchase_types():
    from django_webhooks import sources

    return sources.all_sources()["purchase"].event_types()
