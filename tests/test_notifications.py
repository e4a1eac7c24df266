"""NOTIFY_ADMINS: the site's ADMINS hear when the policy switches a webhook off."""

from __future__ import annotations

import logging
import smtplib

import django
import pytest
from django.core import mail

from django_webhooks import redelivery
from django_webhooks.models import ApiKey, DeliveryAttempt, Webhook
from django_webhooks.worker import engine
from tests.receiver import Status

pytestmark = pytest.mark.django_db(transaction=True)

# Django 6.0 takes ADMINS as addresses and deprecates the (name, address) pairs.
ADMINS = ["ops@shop.example"] if django.VERSION >= (6, 0) else [("Ops", "ops@shop.example")]


@pytest.fixture(autouse=True)
def mail_setup(settings, woken):
    settings.ADMINS = ADMINS
    if django.VERSION >= (6, 1):  # which warns about sending mail without MAILERS
        settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


@pytest.fixture
def notify(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "NOTIFY_ADMINS": True}


def deliver_a_test_event(url: str) -> Webhook:
    api_key, _token = ApiKey.objects.create_key(name="Warehouse")
    webhook = Webhook.objects.create(api_key=api_key, url=url, events=["order.created"])
    redelivery.send_test(webhook)
    engine.run()
    return webhook


def test_admins_hear_when_a_webhook_is_deactivated(receiver, notify):
    url = receiver.script("/gone", [Status(410, b"gone")])

    webhook = deliver_a_test_event(url)

    webhook.refresh_from_db()
    assert not webhook.is_active
    (message,) = mail.outbox
    assert message.to == ["ops@shop.example"]
    assert message.subject.endswith(f"Webhook deactivated: {url}")
    attempt = DeliveryAttempt.objects.get()
    assert "API key “Warehouse”" in message.body
    assert "HTTP 410: the webhook was deactivated." in message.body
    assert f"webhook.test {attempt.event_id}, attempt 1, answered HTTP 410." in message.body
    assert webhook.api_key.signing_secret not in message.body


def test_admins_hear_when_a_webhook_is_deleted(receiver, notify):
    url = receiver.script("/bye", [Status(200, b"Please unsubscribe me")])

    deliver_a_test_event(url)

    assert not Webhook.objects.exists()
    (message,) = mail.outbox
    assert message.subject.endswith(f"Webhook deleted: {url}")
    assert "asked to unsubscribe" in message.body


def test_nobody_is_mailed_unless_asked(receiver):
    url = receiver.script("/gone", [Status(410)])

    webhook = deliver_a_test_event(url)

    webhook.refresh_from_db()
    assert not webhook.is_active
    assert mail.outbox == []


def test_nobody_is_mailed_for_an_ordinary_failure(receiver, notify):
    url = receiver.script("/down", [Status(503)])

    deliver_a_test_event(url)

    assert mail.outbox == []


def test_a_broken_mail_server_is_logged_not_raised(receiver, notify, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPException("mail server down")

    monkeypatch.setattr("django_webhooks.notifications.mail_admins", refuse)
    url = receiver.script("/gone", [Status(410)])

    with caplog.at_level(logging.ERROR, logger="django_webhooks"):
        webhook = deliver_a_test_event(url)

    webhook.refresh_from_db()
    assert not webhook.is_active
    assert any("Could not mail the admins" in record.message for record in caplog.records)
