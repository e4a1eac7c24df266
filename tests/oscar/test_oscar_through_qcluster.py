"""docs/recipes/oscar.md, for real: an Oscar order's life through a real qcluster.

The order is placed with Oscar's ``OrderCreator``, moved along the status pipeline with
``set_status``, paid and shipped through Oscar's ``EventHandler``, and marked as tracked as
Oscar's thank-you page does. A real ``manage.py qcluster`` with the shop's settings delivers
to a real receiver; each step is awaited before the next, so each payload shows the order as
that step committed it.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import transaction
from oscar.core.loading import get_class, get_model
from oscar.test import factories
from standardwebhooks.webhooks import Webhook as Verifier

from django_webhooks import sources
from django_webhooks.models import DeliveryAttempt, Event, Webhook
from tests.cluster import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EventHandler = get_class("order.processing", "EventHandler")
Free = get_class("shipping.methods", "Free")
OrderCreator = get_class("order.utils", "OrderCreator")
OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
Order = get_model("order", "Order")
PaymentEventType = get_model("order", "PaymentEventType")
ShippingEventType = get_model("order", "ShippingEventType")


def place_order():
    """A customer's basket of two partners' products, placed as Oscar's checkout places it."""
    basket = factories.create_basket(empty=True)
    tea = factories.create_product(
        title="Tea",
        price=Decimal("10.00"),
        partner_name="Acme",
        partner_sku="ACME-TEA",
    )
    mug = factories.create_product(
        title="Mug",
        price=Decimal("5.00"),
        partner_name="Globex",
        partner_sku="GLX-MUG",
    )
    basket.add_product(tea, quantity=2)
    basket.add_product(mug, quantity=1)
    shipping = Free()
    charge = shipping.calculate(basket)
    return OrderCreator().place_order(
        basket=basket,
        total=OrderTotalCalculator().calculate(basket, charge),
        shipping_method=shipping,
        shipping_charge=charge,
    )


class Deliveries:
    """What one webhook's URL received, awaited step by step."""

    def __init__(self, receiver, path: str) -> None:
        self.receiver, self.path, self.seen = receiver, path, 0

    def next(self, count: int) -> dict[str, dict]:
        """The next ``count`` deliveries, by event type (one each)."""
        arrived = self.receiver.wait_for(self.seen + count, self.path, timeout=30)
        new, self.seen = arrived[self.seen :], len(arrived)
        by_type = {json.loads(request.body)["type"]: request for request in new}
        assert len(by_type) == count, [json.loads(request.body)["type"] for request in new]
        return by_type


def body(request) -> dict:
    return json.loads(request.body)


def settled() -> bool:
    return not Event.objects.filter(dispatched_at=None).exists() and not (
        DeliveryAttempt.objects.filter(status__in=["scheduled", "sending"]).exists()
    )


def test_an_oscar_order_is_delivered_as_it_goes_through_the_shop(cluster, receiver, api_key):
    order_types = [
        event_type for event_type, _label in sources.all_sources()["order"].event_types()
    ]
    Webhook.objects.create(api_key=api_key, url=receiver.url("/every"), events=order_types)
    Webhook.objects.create(
        api_key=api_key,
        url=receiver.url("/acme"),
        events=["order.created"],
        filter={"items": {"partner": "acme"}},
    )
    Webhook.objects.create(
        api_key=api_key,
        url=receiver.url("/initech"),
        events=["order.created"],
        filter={"items": {"partner": "initech"}},
    )
    every = Deliveries(receiver, "/every")
    paid = PaymentEventType.objects.create(name="Paid")
    shipped = ShippingEventType.objects.create(name="Shipped")
    handler = EventHandler()

    order = place_order()
    created = every.next(1)["order.created"]
    Verifier(api_key.signing_secret).verify(created.body, created.headers)
    placed = body(created)["data"]["object"]
    assert placed["number"] == str(order.number)
    assert placed["status"] == "Pending"
    assert placed["payment_status"] == "unpaid"
    assert placed["fulfillment_status"] == "not_fulfilled"
    assert placed["total_incl_tax"] == "25.00"
    assert [(line["partner_sku"], line["quantity"]) for line in placed["lines"]] == [
        ("ACME-TEA", 2),
        ("GLX-MUG", 1),
    ]
    (acme,) = receiver.wait_for(1, "/acme", timeout=30)
    assert [line["partner_sku"] for line in body(acme)["data"]["object"]["lines"]] == ["ACME-TEA"]

    with transaction.atomic():
        order.set_status("Being processed")
    moved = every.next(2)
    assert body(moved["order.status_changed"])["data"]["previous"] == {"status": "Pending"}
    assert body(moved["order.status_changed"])["data"]["object"]["status"] == "Being processed"
    assert body(moved["order.updated"])["data"]["previous"] == {"status": "Pending"}

    events_before = Event.objects.count()
    with transaction.atomic():
        handler.handle_payment_event(order, paid, order.total_incl_tax, reference="declined")
        transaction.set_rollback(True)
    assert Event.objects.count() == events_before

    with transaction.atomic():  # two payments in one transaction: one event, as committed
        handler.handle_payment_event(order, paid, Decimal("20.00"), reference="card-1")
        handler.handle_payment_event(order, paid, Decimal("5.00"), reference="card-2")
    payment = body(every.next(1)["order.payment_status_changed"])["data"]
    assert payment["previous"] == {"payment_status": "unpaid"}
    assert payment["object"]["payment_status"] == "paid"

    tracked = Order.objects.get(pk=order.pk)  # the thank-you page's order, and its save
    tracked.analytics_tracked = True
    tracked.save(update_fields=["analytics_tracked"])
    assert Event.objects.count() == events_before + 1

    tea_line = order.lines.get(partner_sku="ACME-TEA")
    with transaction.atomic():
        handler.handle_shipping_event(order, shipped, [tea_line], [tea_line.quantity])
    shipment = body(every.next(1)["order.fulfillment_status_changed"])["data"]
    assert shipment["previous"] == {"fulfillment_status": "not_fulfilled"}
    assert shipment["object"]["fulfillment_status"] == "partially_fulfilled"
    assert shipment["object"]["payment_status"] == "paid"

    wait_until(settled, timeout=30)
    assert every.seen == len(receiver.received("/every")) == 5  # nothing for analytics_tracked
    assert len(receiver.received("/acme")) == 1
    assert receiver.received("/initech") == []
