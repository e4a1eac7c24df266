"""A key's scope, set by the store: what every webhook of the key is held to (issue 19, 3).

The probe: a supplier's key had a webhook filtered to its own lines; the supplier PATCHed
``{"filter": {}}`` — or created a new webhook without one — and got every line.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from django_webhooks import redelivery
from django_webhooks.exceptions import DeliveryRefused
from django_webhooks.models import DeliveryAttempt, Webhook
from django_webhooks.worker import dispatch
from example_project.shop.models import Order, OrderItem, Supplier
from tests.api_support import url
from tests.factories import make_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("woken", "fresh_throttle_counts")]

ACME_ONLY = {"items": {"supplier": "acme"}}


@pytest.fixture(autouse=True)
def _suppliers():
    Supplier.objects.create(code="acme", name="ACME")
    Supplier.objects.create(code="globex", name="Globex")


def mixed_order() -> Order:
    with transaction.atomic():
        order = Order.objects.create()
        for sku, code in (("AC-1", "acme"), ("GL-1", "globex")):
            OrderItem.objects.create(
                order=order, sku=sku, name=sku, supplier=Supplier.objects.get(code=code)
            )
    return order


def skus(attempt: DeliveryAttempt) -> list[str]:
    obj = attempt.object_override or attempt.event.data["object"]
    return [item["sku"] for item in obj["items"]]


def test_the_key_owner_cannot_lift_the_stores_scope():
    supplier, client = make_key("ACME")
    supplier.scope = ACME_ONLY
    supplier.save()
    created = client.post(
        url("webhook-list"),
        {"url": "https://acme.example.com/new", "events": ["order.created"]},
        format="json",
    )
    assert created.status_code == 201
    old = Webhook.objects.create(
        api_key=supplier, url="https://acme.example.com/old", events=["order.created"]
    )
    patched = client.patch(url("webhook-detail", old.pk), {"filter": {}}, format="json")
    assert patched.status_code == 200

    mixed_order()
    dispatch.dispatch_pending()

    attempts = DeliveryAttempt.objects.select_related("event")
    assert sorted(a.url for a in attempts) == [
        "https://acme.example.com/new",
        "https://acme.example.com/old",
    ]
    assert [skus(a) for a in attempts] == [["AC-1"], ["AC-1"]]


def test_an_order_outside_the_scope_costs_no_attempt():
    supplier, _client = make_key("ACME")
    supplier.scope = {"items": {"supplier": "acme"}, "object": {"status": "paid"}}
    supplier.save()
    Webhook.objects.create(api_key=supplier, url="https://a.example.com/", events=["order.created"])
    mixed_order()  # pending, not paid
    dispatch.dispatch_pending()
    assert not DeliveryAttempt.objects.exists()


def test_the_owners_own_filter_can_only_narrow_the_scope():
    supplier, _client = make_key("ACME")
    supplier.scope = {"object": {"status": {"in": ["pending", "paid"]}}}
    supplier.save()
    Webhook.objects.create(
        api_key=supplier,
        url="https://a.example.com/",
        events=["order.created"],
        filter=ACME_ONLY,
    )
    mixed_order()
    dispatch.dispatch_pending()
    assert [skus(a) for a in DeliveryAttempt.objects.select_related("event")] == [["AC-1"]]


def test_a_scope_changed_later_applies_at_once_and_to_redeliveries():
    supplier, _client = make_key("ACME")
    webhook = Webhook.objects.create(
        api_key=supplier, url="https://a.example.com/", events=["order.created"]
    )
    mixed_order()
    dispatch.dispatch_pending()
    (before,) = DeliveryAttempt.objects.select_related("event", "webhook__api_key")
    assert skus(before) == ["AC-1", "GL-1"]
    before.status = DeliveryAttempt.Status.FAILED
    before.save()

    supplier.scope = ACME_ONLY
    supplier.save()
    again = redelivery.redeliver(DeliveryAttempt.objects.get(pk=before.pk))
    assert skus(DeliveryAttempt.objects.select_related("event").get(pk=again.pk)) == ["AC-1"]

    mixed_order()
    dispatch.dispatch_pending()  # the filter cache follows the key's change
    newest = DeliveryAttempt.objects.select_related("event").latest("id")
    assert skus(newest) == ["AC-1"]

    supplier.scope = {"object": {"status": "paid"}}
    supplier.save()
    with pytest.raises(DeliveryRefused):
        redelivery.redeliver(DeliveryAttempt.objects.get(pk=newest.pk))
    assert webhook.attempts.count() == 3


def test_the_scope_is_set_in_the_admin_and_checked_there(admin_client):
    supplier, _client = make_key("ACME")
    page = reverse("admin:django_webhooks_apikey_change", args=[supplier.pk])
    form = {"name": "ACME", "scope": '{"items": {"supplir": {"in": 3}}}'}
    refused = admin_client.post(page, form)
    assert refused.status_code == 200
    assert "needs a non-empty list" in refused.content.decode()
    form["scope"] = '{"items": {"supplier": "acme"}}'
    assert admin_client.post(page, form).status_code == 302
    supplier.refresh_from_db()
    assert supplier.scope == ACME_ONLY


def test_the_api_has_no_way_to_the_scope():
    supplier, client = make_key("ACME")
    supplier.scope = ACME_ONLY
    supplier.save()
    hook = Webhook.objects.create(
        api_key=supplier, url="https://a.example.com/", events=["order.created"]
    )
    answer = client.patch(url("webhook-detail", hook.pk), {"scope": {}}, format="json")
    assert answer.status_code == 400
    supplier.refresh_from_db()
    assert supplier.scope == ACME_ONLY
