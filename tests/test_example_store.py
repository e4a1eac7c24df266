"""The example store's demo receiver: it stores what it gets and checks each signature."""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone

from django_webhooks.models import ApiKey, Webhook
from django_webhooks.worker import claims, dispatch, sending
from example_project.shop.models import Order, ReceivedWebhook

pytestmark = pytest.mark.django_db


def signed_delivery(api_key: ApiKey):
    webhook = Webhook.objects.create(
        api_key=api_key, url="https://example.com/", events=["order.created"]
    )
    Order.objects.create()
    dispatch.dispatch_pending()
    (attempt,), _more = claims.claim(1, Counter())
    assert attempt.webhook == webhook
    return sending.prepare(attempt, timezone.now(), {})


def post(client, prepared, body=None):
    headers = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in prepared.headers.items()
        if name != "Content-Type"
    }
    return client.post(
        reverse("demo-receiver"),
        data=body if body is not None else prepared.body,
        content_type=prepared.headers["Content-Type"],
        **headers,
    )


def test_a_signed_delivery_is_stored_as_verified(client):
    prepared = signed_delivery(ApiKey.objects.default())
    response = post(client, prepared)
    assert response.status_code == 200
    received = ReceivedWebhook.objects.get()
    assert received.verified
    assert received.event_type == "order.created"
    assert received.event_id == prepared.headers["webhook-id"]
    page = client.get(reverse("demo-receiver")).content.decode()
    assert received.event_id in page
    assert "verified" in page


def test_a_forged_delivery_is_stored_as_not_verified(client):
    prepared = signed_delivery(ApiKey.objects.default())
    response = post(
        client, prepared, body=prepared.body.replace(b"order.created", b"order.deleted")
    )
    assert response.status_code == 200
    received = ReceivedWebhook.objects.get()
    assert not received.verified
    assert "NOT verified" in client.get(reverse("demo-receiver")).content.decode()


def test_the_receiver_can_be_told_to_fail(client):
    prepared = signed_delivery(ApiKey.objects.default())
    response = client.post(
        reverse("demo-receiver") + "?status=500",
        data=prepared.body,
        content_type="application/json",
    )
    assert response.status_code == 500
