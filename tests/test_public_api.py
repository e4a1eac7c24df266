"""The public names a store relies on (docs/reference.md): their refusals and their promises."""

from __future__ import annotations

import pydoc
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from django_webhooks import events, register_event
from django_webhooks.conf import DEFAULTS, webhook_settings
from django_webhooks.models import Webhook
from django_webhooks.process_local import per_process
from django_webhooks.worker import tasks
from tests.factories import make_key


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Customer.Deleted", "dotted lower-case words"),
        ("customer deleted", "dotted lower-case words"),
        ("", "dotted lower-case words"),
        (42, "dotted lower-case words"),
        ("customer." + "x" * 200, "longer than"),
    ],
)
def test_register_event_refuses_a_bad_type_name(name, message):
    with pytest.raises(ValueError, match=message):
        register_event(name, "Label")

    assert name not in {event_type.type for event_type in events.get_event_types()}


def test_register_event_twice_is_harmless_with_the_same_label_and_refused_with_another():
    try:
        first = register_event("invoice.voided", "Invoice voided")
        again = register_event("invoice.voided", "Invoice voided")
        with pytest.raises(ValueError, match="already registered with the label 'Invoice voided'"):
            register_event("invoice.voided", "Invoice cancelled")
        labels = [e.label for e in events.get_event_types() if e.type == "invoice.voided"]
    finally:
        events.unregister_event("invoice.voided")

    assert again == first
    assert labels == ["Invoice voided"]


@pytest.mark.parametrize(
    ("key", "value", "read"),
    [
        ("ORDER_MODEL", "shop.Purchase", "shop.Purchase"),
        ("ORDER_SERIALIZER", "shop.serializers.Mine", "shop.serializers.Mine"),
        ("SOURCES", {"shop.Order": {}}, {"shop.Order": {}}),
        ("TIMEOUT", "7", 7.0),
        ("RETRY_DELAYS", [1, "2"], (1.0, 2.0)),
        ("SUCCESS_STATUS_CODES", [200, 204], frozenset({200, 204})),
        ("UNSUBSCRIBE_PHRASE", "stop", "stop"),
        ("QUEUE_CLUSTER", "deliveries", "deliveries"),
        ("API_THROTTLE_RATE", None, None),
        ("TRUSTED_PROXIES", "2", 2),
        ("SIGNING_SECRET_GRACE_HOURS", 1, 1.0),
    ],
)
def test_each_setting_is_read_at_use_and_converted(settings, key, value, read):
    settings.WEBHOOKS = {key: value}
    assert getattr(webhook_settings, key) == read

    settings.WEBHOOKS = {}  # the next access reads the default again
    assert getattr(webhook_settings, key) != read
    assert webhook_settings.raw() == {}
    assert key in DEFAULTS


def test_every_setting_has_a_docstring_for_the_api_reference():
    properties = {
        name: value
        for name, value in vars(type(webhook_settings)).items()
        if isinstance(value, property)
    }

    assert set(DEFAULTS) <= set(properties)
    assert [name for name, value in properties.items() if not (value.__doc__ or "").strip()] == []


def test_max_attempts_follows_retry_delays(settings):
    settings.WEBHOOKS = {"RETRY_DELAYS": [5, 10]}

    assert webhook_settings.MAX_ATTEMPTS == 3


def test_the_task_paths_queued_by_0_1_still_resolve():
    # A broker may hold messages naming django_webhooks.queue.* across an upgrade.
    assert pydoc.locate("django_webhooks.queue.deliver") is tasks.deliver
    assert pydoc.locate("django_webhooks.queue.sweep") is tasks.sweep


@pytest.mark.django_db
def test_reseal_names_the_webhooks_no_key_decrypts_and_reseals_the_others(settings):
    api_key, _client = make_key()
    lost, kept = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    def webhook_sealed_with(key: str, value: str) -> Webhook:
        settings.WEBHOOKS = {**settings.WEBHOOKS, "HEADERS_KEYS": [key]}
        webhook = Webhook.objects.create(
            api_key=api_key, url="https://erp.example.com/", events=["order.created"]
        )
        webhook.set_custom_headers({"X-Token": value})
        webhook.save()
        return webhook

    orphan = webhook_sealed_with(lost, "a")
    fine = webhook_sealed_with(kept, "b")
    out = StringIO()

    with pytest.raises(CommandError, match=rf"webhook\(s\) \[{orphan.pk}\]"):
        call_command("webhooks_reseal_headers", stdout=out)

    assert "Re-encrypted the custom headers of 1 webhook(s)." in out.getvalue()
    resealed = Webhook.objects.get(pk=fine.pk)
    assert resealed.headers_sealed != fine.headers_sealed
    assert resealed.custom_headers() == {"X-Token": "b"}
    assert Webhook.objects.get(pk=orphan.pk).headers_sealed == orphan.headers_sealed


def test_a_per_process_instance_is_made_once_per_key_and_again_after_clear():
    made = []

    @per_process
    def pool(name):
        made.append(name)
        return object()

    first = pool("a")
    assert pool("a") is first
    assert pool("b") is not first
    pool.clear()
    assert pool("a") is not first
    assert made == ["a", "b", "a"]
