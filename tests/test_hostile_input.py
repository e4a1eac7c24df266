"""Bad input gets a clear 400 and writes nothing; stored text never makes a page fail
(issue 19: caps per key, lone surrogates)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.urls import reverse

from django_webhooks.models import ApiKey, Webhook
from tests.api_support import url
from tests.factories import make_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("woken", "fresh_throttle_counts")]

SURROGATE_BODIES = [
    '{"url": "https://a.example.com/", "events": ["order.created"], '
    '"filter": {"object": {"note": "\\ud800"}}}',
    '{"url": "https://a.example.com/", "events": ["order.created"], "\\ud800": 1}',
    '{"url": "https://a.example.com/", "events": ["order.created"], "format": "\\ud800"}',
    '{"url": "https://a.example.com/\\udfff", "events": ["order.created"]}',
    '{"url": "https://a.example.com/", "events": ["order.created\\ud800"]}',
]


@pytest.mark.parametrize("body", SURROGATE_BODIES)
def test_a_lone_surrogate_is_a_400_naming_the_field_and_writes_nothing(body):
    _key, client = make_key()
    answer = client.post(url("webhook-list"), body, content_type="application/json")
    assert answer.status_code == 400
    errors = answer.json()
    assert any("lone surrogate" in " ".join(messages) for messages in errors.values())
    assert not Webhook.objects.exists()
    json.dumps(errors).encode("utf-8")  # the answer itself is clean text


def test_a_lone_surrogate_in_a_change_is_refused_too():
    api_key, client = make_key()
    hook = Webhook.objects.create(
        api_key=api_key, url="https://a.example.com/", events=["order.created"]
    )
    answer = client.patch(
        url("webhook-detail", hook.pk),
        '{"filter": {"object": {"note": "\\udc00"}}}',
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert list(answer.json()) == ["filter"]
    hook.refresh_from_db()
    assert hook.filter == {}


@pytest.mark.skipif(
    connection.vendor == "postgresql", reason="PostgreSQL's jsonb cannot hold a lone surrogate"
)
def test_text_stored_with_a_surrogate_never_breaks_the_api_or_the_admin(admin_client):
    api_key, client = make_key()
    hook = Webhook.objects.create(
        api_key=api_key, url="https://a.example.com/", events=["order.created"]
    )
    # As a row saved before the rule (or by the store's own code) may hold it.
    Webhook.objects.filter(pk=hook.pk).update(filter={"object": {"note": "\ud800"}})
    ApiKey.objects.filter(pk=api_key.pk).update(scope={"object": {"note": "\udfff"}})

    listed = client.get(url("webhook-list"))
    assert listed.status_code == 200
    assert listed.json()[0]["filter"] == {"object": {"note": "\ufffd"}}
    for page in (
        reverse("admin:django_webhooks_webhook_change", args=[hook.pk]),
        reverse("admin:django_webhooks_apikey_change", args=[api_key.pk]),
    ):
        answer = admin_client.get(page)
        assert answer.status_code == 200
        assert "\ufffd" in answer.content.decode("utf-8")


def test_a_key_has_at_most_max_webhooks(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "MAX_WEBHOOKS_PER_KEY": 3}
    _key, client = make_key()
    body = {"url": "https://a.example.com/", "events": ["order.created"]}
    statuses = [client.post(url("webhook-list"), body, format="json").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 400]
    refused = client.post(url("webhook-list"), body, format="json").json()
    assert "already has 3 webhooks" in refused["non_field_errors"][0]
    assert Webhook.objects.count() == 3


def test_another_keys_webhooks_do_not_count(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "MAX_WEBHOOKS_PER_KEY": 1}
    _one, first = make_key("One")
    _two, second = make_key("Two")
    body = {"url": "https://a.example.com/", "events": ["order.created"]}
    assert first.post(url("webhook-list"), body, format="json").status_code == 201
    assert second.post(url("webhook-list"), body, format="json").status_code == 201


def test_a_filter_over_the_size_cap_is_refused(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "MAX_FILTER_BYTES": 200}
    _key, client = make_key()
    big = {"object": {"status": {"in": [f"state-{n}" for n in range(40)]}}}
    answer = client.post(
        url("webhook-list"),
        {"url": "https://a.example.com/", "events": ["order.created"], "filter": big},
        format="json",
    )
    assert answer.status_code == 400
    assert "at most 200 bytes" in answer.json()["filter"][0]
    assert not Webhook.objects.exists()
