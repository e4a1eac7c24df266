"""Signatures that the reference ``standardwebhooks`` package accepts."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from django_webhooks import signing


def test_secrets_are_whsec_and_32_random_bytes():
    secret = signing.generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != signing.generate_secret()


def headers(secrets, message_id="evt_1", body=b'{"a":1}'):
    timestamp = int(time.time())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(secrets, message_id, timestamp, body),
    }


def test_standardwebhooks_verifies_our_signature():
    secret = signing.generate_secret()
    body = '{"type":"order.created","note":"Grüße"}'.encode()
    assert StandardWebhook(secret).verify(body, headers([secret], body=body)) is not None


def test_a_tampered_body_or_other_secret_fails():
    secret = signing.generate_secret()
    signed = headers([secret])
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(secret).verify(b'{"a":2}', signed)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(signing.generate_secret()).verify(b'{"a":1}', signed)


def test_rotation_header_satisfies_both_secrets():
    old, new = signing.generate_secret(), signing.generate_secret()
    signed = headers([new, old])
    assert len(signed["webhook-signature"].split()) == 2
    for secret in (new, old):
        StandardWebhook(secret).verify(b'{"a":1}', signed)


def test_verify_helper_is_constant_time_and_exact():
    secret = signing.generate_secret()
    header = signing.signature_header([secret], "evt_1", 1700000000, b"x")
    assert signing.verify(secret, "evt_1", 1700000000, b"x", header)
    assert not signing.verify(secret, "evt_1", 1700000001, b"x", header)
    assert not signing.verify(secret, "evt_2", 1700000000, b"x", header)
