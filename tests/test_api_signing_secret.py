"""/api/signing-secret/rotate/: the only place the API shows a signing secret."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from django_webhooks.models import ApiKey
from tests.api_support import url
from tests.factories import Status, make_attempt, make_key, make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]


def test_rotate_returns_the_new_secret_once_and_keeps_the_old_one_signing_for_a_day():
    api_key, client = make_key()
    old_secret = api_key.signing_secret

    response = client.post(url("signing-secret-rotate"))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    api_key.refresh_from_db()
    assert body["signing_secret"] == api_key.signing_secret
    assert body["signing_secret"].startswith("whsec_")
    assert body["signing_secret"] != old_secret
    assert api_key.active_signing_secrets() == [body["signing_secret"], old_secret]
    expires = datetime.fromisoformat(body["previous_secret_expires_at"])
    assert timedelta(hours=23, minutes=59) < expires - timezone.now() <= timedelta(hours=24)


def test_rotating_one_key_leaves_the_others_alone():
    _accounting, accounting = make_key("Accounting")
    warehouse, _client = make_key("Warehouse")
    before = warehouse.signing_secret

    accounting.post(url("signing-secret-rotate"))

    warehouse.refresh_from_db()
    assert warehouse.signing_secret == before
    assert warehouse.previous_signing_secret == ""


def test_no_other_answer_shows_a_secret_a_hash_or_a_signature():
    api_key, client = make_key()
    webhook = make_webhook(api_key)
    attempt = make_attempt(webhook, Status.FAILED)
    attempt.request_headers = {"webhook-signature": "v1,abcdefgh…"}
    attempt.save()
    api_key.rotate_signing_secret()
    api_key = ApiKey.objects.get(pk=api_key.pk)
    secrets = [
        api_key.signing_secret,
        api_key.previous_signing_secret,
        api_key.hashed_key,
        "whsec_",
        "v1,",
    ]

    answers = [
        client.get(url("webhook-list")),
        client.get(url("webhook-detail", webhook.pk)),
        client.patch(url("webhook-detail", webhook.pk), {"format": "xml"}, format="json"),
        client.get(url("webhook-attempts", webhook.pk)),
        client.post(url("attempt-redeliver", attempt.pk)),
        client.post(url("webhook-test", webhook.pk)),
        client.get(url("event-types")),
        client.get(url("schema"), {"format": "json"}),
    ]

    for answer in answers:
        assert answer.status_code < 300, answer.content
        text = answer.content.decode()
        assert not [secret for secret in secrets if secret in text], answer.request["PATH_INFO"]
