"""The admin's side of the catalog: example payloads under "Fire when", test events of a chosen
type, and custom headers that can be set, replaced and removed but never read back."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.urls import reverse

from django_webhooks import catalog
from django_webhooks.models import ApiKey, DeliveryAttempt, Webhook

pytestmark = pytest.mark.django_db
SECRET = "Bearer s3cr3t-admin-token"


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr("django_webhooks.wakeup.wake", lambda using="default": None)


@pytest.fixture
def webhook(db):
    hook = Webhook.objects.create(
        api_key=ApiKey.objects.default(),
        url="https://partner.example/hooks",
        events=["order.created"],
    )
    hook.set_custom_headers({"Authorization": SECRET, "X-Tenant": "t-1"})
    hook.save()
    return hook


def change_url(webhook: Webhook) -> str:
    return reverse("admin:django_webhooks_webhook_change", args=[webhook.pk])


def form_data(webhook: Webhook, **changes) -> dict:
    return {
        "api_key": webhook.api_key_id,
        "url": webhook.url,
        "events": webhook.events,
        "format": webhook.format,
        "is_active": "on",
        "filter": "{}",
        **changes,
    }


def test_fire_when_shows_each_types_example_folded(admin_client):
    page = admin_client.get("/admin/django_webhooks/webhook/add/").content.decode()

    previews = re.findall(r'<details class="dw-example">.*?<pre>(.*?)</pre></details>', page, re.S)
    assert len(previews) == len(catalog.entries())
    shown = [json.loads(html.unescape(preview)) for preview in previews]
    assert shown == [entry.example for entry in catalog.entries()]


def test_send_test_event_of_a_chosen_type(admin_client, webhook):
    page = admin_client.get(change_url(webhook)).content.decode()
    assert '<option value="order.status_changed">' in page

    admin_client.post(
        reverse("admin:django_webhooks_webhook_send_test", args=[webhook.pk]),
        {"type": "order.status_changed"},
    )
    admin_client.post(
        reverse("admin:django_webhooks_webhook_send_test", args=[webhook.pk]),
        {"type": "order.nothing"},
    )

    (attempt,) = DeliveryAttempt.objects.all()
    assert attempt.event_type == "order.status_changed"
    assert attempt.trigger == DeliveryAttempt.Trigger.TEST
    assert attempt.event.data == catalog.entry("order.status_changed").example["data"]
    messages = [str(m) for m in admin_client.get(change_url(webhook)).context["messages"]]
    assert "The example order.status_changed event is on its way." in messages
    assert "Unknown event type 'order.nothing'." in messages


def test_the_change_page_names_the_headers_and_never_shows_a_value(admin_client, webhook):
    page = admin_client.get(change_url(webhook)).content.decode()

    assert 'value="Authorization"' in page
    assert 'value="X-Tenant"' in page
    assert "s3cr3t" not in page
    assert "t-1" not in page


def test_headers_are_set_replaced_and_removed_from_the_form(admin_client, webhook):
    answer = admin_client.post(
        change_url(webhook),
        form_data(
            webhook,
            set_headers="X-Tenant: t-2\nX-Extra: yes: with a colon",
            remove_headers=["Authorization"],
        ),
    )

    assert answer.status_code == 302
    webhook.refresh_from_db()
    assert webhook.custom_headers() == {"X-Tenant": "t-2", "X-Extra": "yes: with a colon"}
    assert webhook.header_names == ["X-Tenant", "X-Extra"]


def test_refused_headers_are_errors_that_echo_no_value(admin_client, webhook):
    answer = admin_client.post(
        change_url(webhook),
        form_data(webhook, set_headers="Host: evil.example\nnot-a-header-line-s3cr3t"),
    )

    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors["set_headers"]
    assert any(error.startswith("Host: ") for error in errors)
    assert "Line 2: write “Name: value”." in errors
    page = answer.content.decode()
    assert "s3cr3t" not in page
    assert "evil.example" not in page  # what was typed is not rendered back either
    webhook.refresh_from_db()
    assert webhook.custom_headers() == {"Authorization": SECRET, "X-Tenant": "t-1"}


def test_saving_without_touching_the_headers_keeps_them(admin_client, webhook):
    answer = admin_client.post(change_url(webhook), form_data(webhook, url="https://b.example/"))

    assert answer.status_code == 302
    webhook.refresh_from_db()
    assert webhook.url == "https://b.example/"
    assert webhook.custom_headers() == {"Authorization": SECRET, "X-Tenant": "t-1"}
