"""Issue 8 end to end: one webhook per supplier, each receiver gets only its own lines."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook as StandardWebhook

from django_webhooks.models import DeliveryAttempt, Webhook
from example_project.shop.models import Order, OrderItem, Supplier

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_each_supplier_receives_only_its_lines(cluster, receiver, api_key):
    acme = Supplier.objects.create(code="acme", name="ACME")
    globex = Supplier.objects.create(code="globex", name="Globex")
    for supplier in (acme, globex):
        Webhook.objects.create(
            api_key=api_key,
            url=receiver.url(f"/{supplier.code}"),
            events=["order.created"],
            filter={"items": {"supplier": supplier.code}},
            format="json",
        )
    with transaction.atomic():
        basket = Order.objects.create(note="mixed basket")
        OrderItem.objects.create(order=basket, sku="AC-1", name="Anvil", supplier=acme)
        OrderItem.objects.create(order=basket, sku="GL-1", name="Globe", supplier=globex)
        OrderItem.objects.create(order=basket, sku="AC-2", name="Rocket", supplier=acme)
    with transaction.atomic():
        globex_only = Order.objects.create(note="globex only")
        OrderItem.objects.create(order=globex_only, sku="GL-2", name="Lamp", supplier=globex)

    (acme_request,) = receiver.wait_for(1, "/acme")
    globex_requests = receiver.wait_for(2, "/globex")
    verifier = StandardWebhook(api_key.signing_secret)
    acme_order = verifier.verify(acme_request.body, acme_request.headers)["data"]["object"]
    assert acme_order["id"] == basket.pk
    assert [item["sku"] for item in acme_order["items"]] == ["AC-1", "AC-2"]
    seen = {
        body["data"]["object"]["id"]: [item["sku"] for item in body["data"]["object"]["items"]]
        for body in (json.loads(request.body) for request in globex_requests)
    }
    assert seen == {basket.pk: ["GL-1"], globex_only.pk: ["GL-2"]}
    # The order without an ACME line was fanned out (Globex got it) without an ACME attempt.
    assert not DeliveryAttempt.objects.filter(
        webhook__url__endswith="/acme", event__object_pk=str(globex_only.pk)
    ).exists()
    assert len(receiver.received("/acme")) == 1
