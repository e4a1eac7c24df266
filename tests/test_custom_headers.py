"""A webhook's custom headers: sent on every attempt, refused when they would break a delivery,
stored encrypted, and never shown again once saved (names are)."""

from __future__ import annotations

import json

import pytest
import responses
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from django_webhooks import sealing
from django_webhooks.checks import check_headers_keys
from django_webhooks.custom_headers import REDACTED, RESERVED
from django_webhooks.models import DeliveryAttempt, Webhook
from django_webhooks.worker import engine
from example_project.shop.models import Order
from tests.api_support import url
from tests.factories import make_key

pytestmark = pytest.mark.django_db
URL = "https://erp.example.com/hooks"
SECRET = "Bearer s3cr3t-t0ken-for-the-erp"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()


def create(client, headers, **fields):
    body = {"url": URL, "events": ["order.created"], "headers": headers, **fields}
    return client.post(url("webhook-list"), body, format="json")


def raw_row(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM django_webhooks_webhook WHERE id = %s", [pk])
        return repr(cursor.fetchone())


def test_values_are_accepted_stored_encrypted_and_never_answered():
    _key, client = make_key()

    answer = create(client, {"Authorization": SECRET, "X-Tenant": "store-7"})

    assert answer.status_code == 201
    assert answer.json()["header_names"] == ["Authorization", "X-Tenant"]
    assert "headers" not in answer.json()
    webhook = Webhook.objects.get(pk=answer.json()["id"])
    assert webhook.custom_headers() == {"Authorization": SECRET, "X-Tenant": "store-7"}
    assert "s3cr3t" not in raw_row(webhook.pk)
    assert "store-7" not in raw_row(webhook.pk)
    for read in (
        client.get(url("webhook-detail", webhook.pk)),
        client.get(url("webhook-list")),
        client.patch(url("webhook-detail", webhook.pk), {"is_active": True}, format="json"),
    ):
        assert read.status_code == 200
        assert "s3cr3t" not in read.content.decode()
    assert client.get(url("webhook-detail", webhook.pk)).json()["header_names"] == [
        "Authorization",
        "X-Tenant",
    ]


@pytest.mark.parametrize(
    "name",
    [
        *sorted(RESERVED),
        "Content-Type",
        "HOST",
        "webhook-id",
        "Webhook-Signature",
        "webhook-timestamp",
        "x-webhook-event",
        "X-Webhook-Attempt",
        "X-Webhook-Anything",
        "User-Agent",
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
    ],
)
def test_names_the_app_sets_host_length_and_hop_by_hop_ones_are_refused(name):
    _key, client = make_key()

    answer = create(client, {name: "x", "X-Fine": "ok"})

    assert answer.status_code == 400
    assert list(answer.json()["headers"]) == [name]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"X-Evil": "a\r\nX-Injected: 1"}, "X-Evil"),
        ({"X-Evil": "line\nbreak"}, "X-Evil"),
        ({"X-Evil": "nul\x00"}, "X-Evil"),
        ({"X Evil": "space in the name"}, "X Evil"),
        ({"X-Evil\r\n": "x"}, "X-Evil\r\n"),
        ({"": "x"}, ""),
        ({"X-Number": 7}, "X-Number"),
        ({"X-Long": "v" * 5000}, "X-Long"),
        ({"X-Twice": "1", "x-twice": "2"}, "x-twice"),
        ({"X-Ünicode": "x"}, "X-Ünicode"),
    ],
)
def test_invalid_names_and_values_are_refused_per_name(headers, refused):
    _key, client = make_key()

    answer = create(client, headers)

    assert answer.status_code == 400
    assert refused in answer.json()["headers"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("headers", [["Authorization", "x"], "Authorization: x", 3])
def test_headers_must_be_an_object(headers):
    _key, client = make_key()

    answer = create(client, headers)

    assert answer.status_code == 400
    assert isinstance(answer.json()["headers"], list)


def test_a_change_is_merged_null_removes_and_put_without_headers_keeps_them():
    _key, client = make_key()
    pk = create(client, {"Authorization": SECRET, "X-Tenant": "a"}).json()["id"]
    detail = url("webhook-detail", pk)

    client.patch(detail, {"headers": {"x-tenant": "b", "X-New": "n"}}, format="json")
    after_patch = Webhook.objects.get(pk=pk).custom_headers()
    client.patch(detail, {"headers": {"Authorization": None}}, format="json")
    after_removal = Webhook.objects.get(pk=pk).custom_headers()
    put = client.put(detail, {"url": URL, "events": ["order.created"]}, format="json")

    assert after_patch == {"Authorization": SECRET, "x-tenant": "b", "X-New": "n"}
    assert after_removal == {"x-tenant": "b", "X-New": "n"}
    assert put.json()["header_names"] == ["x-tenant", "X-New"]
    assert Webhook.objects.get(pk=pk).custom_headers() == after_removal


def test_at_most_twenty_headers():
    _key, client = make_key()

    answer = create(client, {f"X-H{number}": "v" for number in range(21)})

    assert answer.status_code == 400
    assert answer.json()["headers"] == ["At most 20 headers."]


@pytest.mark.django_db(transaction=True)
def test_sent_on_every_attempt_and_logged_with_the_value_redacted(api_key, woken, clock):
    webhook = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    webhook.set_custom_headers({"Authorization": SECRET})
    webhook.save()

    with responses.RequestsMock() as http:
        http.post(URL, status=500)
        Order.objects.create()
        engine.run()
        clock.advance(60)
        engine.run()
        sent = [call.request.headers for call in http.calls]

    assert [headers["Authorization"] for headers in sent] == [SECRET, SECRET]
    assert all(headers["X-Webhook-Event"] == "order.created" for headers in sent)
    attempts = [a for a in DeliveryAttempt.objects.order_by("number") if a.is_final]
    assert [a.request_headers["Authorization"] for a in attempts] == [REDACTED, REDACTED]
    assert all("s3cr3t" not in json.dumps(a.request_headers) for a in attempts)


@pytest.mark.django_db(transaction=True)
def test_headers_no_key_decrypts_are_not_sent_at_all(api_key, woken, settings):
    webhook = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    webhook.set_custom_headers({"Authorization": SECRET})
    webhook.save()
    settings.SECRET_KEY = "another-secret-key-entirely"

    with responses.RequestsMock() as http:
        Order.objects.create()
        stats = engine.run()
        assert [call.request.url for call in http.calls] == []

    (attempt,) = DeliveryAttempt.objects.all()
    assert stats.cancelled == 1
    assert attempt.status == DeliveryAttempt.Status.CANCELLED
    assert "custom headers cannot be decrypted" in attempt.error


def test_rotating_the_key_keeps_old_headers_readable_and_reseal_moves_them(api_key, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WEBHOOKS = {**settings.WEBHOOKS, "HEADERS_KEYS": [old]}
    webhook = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    webhook.set_custom_headers({"Authorization": SECRET})
    webhook.save()
    sealed_with_old = webhook.headers_sealed

    settings.WEBHOOKS = {**settings.WEBHOOKS, "HEADERS_KEYS": [new, old]}
    readable_during_rotation = Webhook.objects.get(pk=webhook.pk).custom_headers()
    call_command("webhooks_reseal_headers", verbosity=0)
    settings.WEBHOOKS = {**settings.WEBHOOKS, "HEADERS_KEYS": [new]}
    webhook.refresh_from_db()

    assert readable_during_rotation == {"Authorization": SECRET}
    assert webhook.headers_sealed != sealed_with_old
    assert webhook.custom_headers() == {"Authorization": SECRET}


def test_secret_key_fallbacks_keep_derived_keys_readable(api_key, settings):
    webhook = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    webhook.set_custom_headers({"Authorization": SECRET})
    webhook.save()
    old_secret = settings.SECRET_KEY

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated", [old_secret]

    assert Webhook.objects.get(pk=webhook.pk).custom_headers() == {"Authorization": SECRET}
    assert sealing.unseal(sealing.seal({"A": "b"})) == {"A": "b"}


def test_the_sealed_column_takes_no_lookups():
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError):
        list(Webhook.objects.filter(headers_sealed__startswith="gAAAA"))


@pytest.mark.parametrize(
    ("keys", "ids"),
    [
        (None, []),
        ([Fernet.generate_key().decode()], []),
        ([], ["django_webhooks.E040"]),
        ("one-key", ["django_webhooks.E040"]),
        (["not-a-fernet-key"], ["django_webhooks.E041"]),
        ([Fernet.generate_key(), "short"], ["django_webhooks.E041"]),
    ],
)
def test_headers_keys_are_checked(settings, keys, ids):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "HEADERS_KEYS": keys}

    assert [error.id for error in check_headers_keys()] == ids
