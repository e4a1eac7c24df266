"""The recipe's pieces inside the Oscar shop: the dashboard link, the catalog, the statuses."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from django_webhooks import sources
from django_webhooks.models import ApiKey, Event, Webhook
from django_webhooks.sources import check_webhook_filter
from tests.oscar.store_webhooks import fulfillment_status, payment_status
from tests.test_recipes import recipe_blocks

pytestmark = pytest.mark.django_db

EventHandler = get_class("order.processing", "EventHandler")
PaymentEventType = get_model("order", "PaymentEventType")
ShippingEventType = get_model("order", "ShippingEventType")
WEBHOOKS_PAGE = 'href="/admin/django_webhooks/webhook/"'
DELIVERY_LOG_PAGE = 'href="/admin/django_webhooks/deliveryattempt/"'


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", email="staff@example.com", password="x", is_staff=True
    )


def test_the_dashboard_links_staff_who_may_see_webhooks_to_their_pages(client, staff):
    staff.user_permissions.add(
        Permission.objects.get(codename="view_webhook"),
        Permission.objects.get(codename="change_webhook"),
    )
    client.force_login(staff)

    dashboard = client.get("/dashboard/").content.decode()

    assert WEBHOOKS_PAGE in dashboard
    assert DELIVERY_LOG_PAGE not in dashboard  # no permission on the delivery log
    assert client.get("/admin/django_webhooks/webhook/").status_code == 200


def test_the_dashboard_shows_no_webhook_link_to_staff_without_the_permission(client, staff):
    client.force_login(staff)

    response = client.get("/dashboard/")

    assert response.status_code == 200
    assert "Orders" in response.content.decode()
    assert WEBHOOKS_PAGE not in response.content.decode()


def test_the_shops_catalog_offers_the_order_source_types(client):
    _key, token = ApiKey.objects.create_key(name="Warehouse")

    answer = client.get("/api/event-types/", HTTP_AUTHORIZATION=f"Api-Key {token}").json()

    assert {entry["type"] for entry in answer} == {
        "order.created",
        "order.updated",
        "order.status_changed",
        "order.payment_status_changed",
        "order.fulfillment_status_changed",
        "order.deleted",
        "webhook.test",
    }


def test_the_shop_passes_the_system_checks_and_lacks_no_migration(capsys):
    call_command("check", "--fail-level", "WARNING")  # a wrong source would be an error
    call_command("makemigrations", "--check", "--dry-run")
    assert "No changes detected" in capsys.readouterr().out


def test_an_item_filter_on_what_oscar_lines_lack_is_refused_and_on_theirs_accepted():
    check_webhook_filter(
        {"items": {"partner": "acme", "partner_sku": {"prefix": "AC"}}}, ["order.created"]
    )
    with pytest.raises(ValidationError, match="partner_sku"):
        check_webhook_filter({"items": {"sku": "ACME-TEA"}}, ["order.created"])


@pytest.fixture
def order():
    basket = factories.create_basket(empty=True)
    for sku, price, quantity in [("ACME-TEA", "10.00", 2), ("GLX-MUG", "5.00", 1)]:
        product = factories.create_product(price=Decimal(price), partner_sku=sku, num_in_stock=9)
        basket.add_product(product, quantity=quantity)
    return factories.create_order(basket=basket)


def pay(order, name, amount):
    event_type, _created = PaymentEventType.objects.get_or_create(name=name)
    EventHandler().handle_payment_event(order, event_type, Decimal(amount))
    return payment_status(order)


def test_the_payment_status_follows_the_payment_events(order):
    assert order.total_incl_tax == Decimal("25.00")
    assert payment_status(order) == "unpaid"
    assert pay(order, "Authorised", "25.00") == "authorised"
    assert pay(order, "Paid", "20.00") == "partially_paid"
    assert pay(order, "Settled", "5.00") == "paid"
    assert pay(order, "Refunded", "5.00") == "partially_paid"
    assert pay(order, "Refunded", "20.00") == "refunded"


def ship(order, name, sku, quantity):
    event_type, _created = ShippingEventType.objects.get_or_create(name=name)
    line = order.lines.get(partner_sku=sku)
    EventHandler().handle_shipping_event(order, event_type, [line], [quantity])
    return fulfillment_status(order)


def test_the_fulfillment_status_counts_shipped_quantities_against_the_lines(order):
    assert fulfillment_status(order) == "not_fulfilled"
    assert ship(order, "Cancelled", "GLX-MUG", 1) == "not_fulfilled"
    assert ship(order, "Shipped", "ACME-TEA", 1) == "partially_fulfilled"
    assert ship(order, "Shipped", "ACME-TEA", 1) == "partially_fulfilled"
    assert ship(order, "Shipped", "GLX-MUG", 1) == "fulfilled"


def test_the_quantities_oscar_adds_after_the_shipping_event_are_what_fires(order, api_key):
    """Oscar saves the ShippingEvent first and its quantities after it: those are `related`."""
    Webhook.objects.create(
        api_key=api_key, url="https://erp.example/", events=["order.fulfillment_status_changed"]
    )
    shipped = ShippingEventType.objects.create(name="Shipped")

    with transaction.atomic():
        event = order.shipping_events.create(event_type=shipped)
        assert not Event.objects.exists()  # the event alone ships nothing yet
        for line in order.lines.all():
            event.line_quantities.create(line=line, quantity=line.quantity)

    (fired,) = Event.objects.all()
    assert fired.type == "order.fulfillment_status_changed"
    assert fired.previous == {"fulfillment_status": "not_fulfilled"}


def test_the_recipes_example_payload_has_the_shape_of_a_real_order(order):
    example = json.loads(recipe_blocks("json")[0])["data"]["object"]

    real = sources.all_sources()["order"].snapshot(order)

    assert list(example) == list(real)
    assert list(example["lines"][0]) == list(real["lines"][0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", real["date_placed"])
    assert {key: type(value) for key, value in example.items() if value is not None} == {
        key: type(value) for key, value in real.items() if value is not None
    }
