"""The example store's demo receiver: it stores what it gets and checks each signature."""

from __future__ import annotations

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
    (attempt,), _more = claims.claim(1)
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


def test_a_signed_delivery_is_stored_as_verified(client, admin_client):
    prepared = signed_delivery(ApiKey.objects.default())
    response = post(client, prepared)
    assert response.status_code == 200
    received = ReceivedWebhook.objects.get()
    assert received.verified
    assert received.event_type == "order.created"
    assert received.event_id == prepared.headers["webhook-id"]
    page = admin_client.get(reverse("demo-receiver")).content.decode()
    assert received.event_id in page
    assert "verified" in page


def test_a_forged_delivery_is_stored_as_not_verified(client, admin_client):
    prepared = signed_delivery(ApiKey.objects.default())
    response = post(
        client, prepared, body=prepared.body.replace(b"order.created", b"order.deleted")
    )
    assert response.status_code == 200
    received = ReceivedWebhook.objects.get()
    assert not received.verified
    assert "NOT verified" in admin_client.get(reverse("demo-receiver")).content.decode()


def test_the_receiver_can_be_told_to_fail(client):
    prepared = signed_delivery(ApiKey.objects.default())
    response = client.post(
        reverse("demo-receiver") + "?status=500",
        data=prepared.body,
        content_type="application/json",
    )
    assert response.status_code == 500


def test_what_the_demo_received_is_shown_to_staff_only(client):
    post(client, signed_delivery(ApiKey.objects.default()))
    for query in ("", "?format=json"):
        answer = client.get(reverse("demo-receiver") + query)
        assert answer.status_code == 302  # to the admin's login
        assert "/admin/login/" in answer["Location"]


@pytest.mark.parametrize("status", ["abc", "99", "600", ""])
def test_a_status_that_is_no_http_status_is_a_400(client, status):
    answer = client.post(
        reverse("demo-receiver") + f"?status={status}", data=b"{}", content_type="application/json"
    )
    assert answer.status_code == 400
    assert not ReceivedWebhook.objects.exists()


def test_an_xml_delivery_is_verified(client):
    api_key = ApiKey.objects.default()
    Webhook.objects.create(
        api_key=api_key, url="https://example.com/", events=["order.created"], format="xml"
    )
    Order.objects.create()
    dispatch.dispatch_pending()
    (attempt,), _more = claims.claim(1)
    prepared = sending.prepare(attempt, timezone.now(), {})
    assert prepared.body.startswith(b"<?xml")
    assert post(client, prepared).status_code == 200
    assert ReceivedWebhook.objects.get().verified


def test_the_example_keeps_the_address_guard_on_unless_told(monkeypatch):
    import importlib

    import example_project.settings as example

    monkeypatch.delenv("WEBHOOKS_ALLOW_PRIVATE", raising=False)
    assert importlib.reload(example).WEBHOOKS["ALLOW_PRIVATE_DESTINATIONS"] is False
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE", "1")
    assert importlib.reload(example).WEBHOOKS["ALLOW_PRIVATE_DESTINATIONS"] is True
