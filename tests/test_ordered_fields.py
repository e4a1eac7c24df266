"""Webhook.ordered ("Deliver in order") where a webhook is set up: the API, the admin, the
consumer portal, and the German words for it."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from django_webhooks.models import ApiKey, Webhook
from tests.api_support import url as api_url
from tests.portal_support import open_portal
from tests.portal_support import url as portal_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("woken", "fresh_throttle_counts")]
ADMIN_WEBHOOKS = "/admin/django_webhooks/webhook/"
BODY = {"url": "https://erp.example.com/hooks", "events": ["order.created"]}


def test_the_api_creates_reads_and_changes_ordered(accounting):
    _key, client = accounting
    made = client.post(api_url("webhook-list"), BODY, format="json")
    assert made.status_code == 201
    assert made.json()["ordered"] is False  # the default
    ordered = client.post(api_url("webhook-list"), {**BODY, "ordered": True}, format="json")
    assert ordered.status_code == 201
    webhook = Webhook.objects.get(pk=ordered.json()["id"])
    assert webhook.ordered
    changed = client.patch(api_url("webhook-detail", webhook.pk), {"ordered": False}, format="json")
    assert changed.status_code == 200
    webhook.refresh_from_db()
    assert not webhook.ordered


@pytest.mark.parametrize("value", ["yes", 1, "true", None])
def test_the_api_takes_only_a_json_boolean_for_ordered(accounting, value):
    _key, client = accounting
    response = client.post(api_url("webhook-list"), {**BODY, "ordered": value}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["ordered"]
    assert not Webhook.objects.exists()


def test_the_openapi_document_describes_ordered(accounting):
    _key, client = accounting
    schema = client.get(api_url("schema"), {"format": "json"}).json()
    webhook = schema["components"]["schemas"]["Webhook"]["properties"]["ordered"]
    assert webhook["type"] == "boolean"
    assert "one at a time" in webhook["description"]


def test_the_admin_add_page_offers_deliver_in_order_and_saves_it(admin_client):
    page = admin_client.get(ADMIN_WEBHOOKS + "add/").content.decode()
    assert re.search(r'<label[^>]*for="id_ordered"[^>]*>Deliver in order', page)
    assert "the next waits until the previous was delivered or given up" in page
    response = admin_client.post(
        ADMIN_WEBHOOKS + "add/",
        {
            "api_key": ApiKey.objects.default().pk,
            "url": "https://partner.example/in",
            "events": ["order.created"],
            "format": "json",
            "is_active": "on",
            "ordered": "on",
        },
    )
    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert webhook.ordered
    change = admin_client.get(f"{ADMIN_WEBHOOKS}{webhook.pk}/change/").content.decode()
    assert re.search(r'<input[^>]*name="ordered"[^>]*checked', change)


def test_the_portal_form_sets_and_clears_ordered(client, accounting):
    key, _client = accounting
    portal = open_portal(client, key)
    form = portal.get(portal_url("add")).content.decode()
    assert 'name="ordered"' in form
    assert "Deliver in order" in form
    assert portal.post(portal_url("add"), {**BODY, "ordered": "on"}).status_code == 302
    webhook = Webhook.objects.get()
    assert webhook.ordered
    shown = portal.get(portal_url("change", webhook.pk)).content.decode()
    assert re.search(r'<input[^>]*name="ordered"[^>]*checked', shown)
    # An unticked box sends nothing, and means no.
    assert portal.post(portal_url("change", webhook.pk), BODY).status_code == 302
    webhook.refresh_from_db()
    assert not webhook.ordered


def test_deliver_in_order_speaks_german():
    with translation.override("de"):
        field = Webhook._meta.get_field("ordered")
        assert str(field.verbose_name) == "In Reihenfolge zustellen"
        assert "nacheinander" in str(field.help_text)
