"""Each attempt's outcome is logged once, with its facts as fields, and never a secret."""

from __future__ import annotations

import logging

import pytest

from django_webhooks.models import DeliveryAttempt, Webhook
from django_webhooks.worker import engine
from example_project.shop.models import Order

URL = "https://erp.example.com/hooks?token=receiver-token-in-the-url"
pytestmark = pytest.mark.django_db(transaction=True)
FIELDS = {
    "event_id", "event_type", "webhook_id", "attempt_id", "attempt_number", "status", "verdict",
    "response_status", "duration_ms", "url_host",
}  # fmt: skip


def outcome_records(caplog):
    return [record for record in caplog.records if record.name == "django_webhooks.deliveries"]


def test_one_record_per_outcome_with_its_fields(api_key, woken, http_mock, caplog):
    ok = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    down = Webhook.objects.create(
        api_key=api_key, url="https://down.example/in", events=["order.created"]
    )
    http_mock.post(URL, status=200)
    http_mock.post("https://down.example/in", status=500)
    Order.objects.create()
    with caplog.at_level(logging.INFO, logger="django_webhooks.deliveries"):
        engine.run()
    records = {record.webhook_id: record for record in outcome_records(caplog)}
    assert len(outcome_records(caplog)) == 2
    attempt = DeliveryAttempt.objects.get(webhook=ok)
    good, bad = records[ok.pk], records[down.pk]
    assert set(vars(good)) >= FIELDS
    assert (good.levelno, good.status, good.verdict, good.response_status) == (
        logging.INFO, "succeeded", "succeeded", 200,
    )  # fmt: skip
    assert (good.event_id, good.attempt_id, good.attempt_number) == (
        attempt.event_id, attempt.pk, 1,
    )  # fmt: skip
    assert good.duration_ms == attempt.duration_ms
    assert good.url_host == "erp.example.com"
    assert (bad.levelno, bad.status, bad.verdict, bad.response_status) == (
        logging.WARNING, "failed", "failed", 500,
    )  # fmt: skip


def test_nothing_secret_is_logged(api_key, woken, http_mock, caplog):
    webhook = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    webhook.set_custom_headers({"Authorization": "Bearer receiver-custom-secret"})
    webhook.save()
    http_mock.post(URL, status=401, body="denied: Bearer receiver-custom-secret")
    Order.objects.create()
    with caplog.at_level(logging.DEBUG):
        engine.run()
    sent = http_mock.calls[0].request.headers
    secrets = [
        api_key.signing_secret,
        api_key.signing_secret.removeprefix("whsec_"),
        sent["webhook-signature"],
        sent["webhook-signature"].split(",", 1)[1],
        "receiver-custom-secret",
        "receiver-token-in-the-url",
    ]
    assert outcome_records(caplog)  # the outcome was logged
    for record in caplog.records:
        text = record.getMessage() + " " + " ".join(map(repr, vars(record).values()))
        for secret in secrets:
            assert secret not in text, (record.name, secret)
