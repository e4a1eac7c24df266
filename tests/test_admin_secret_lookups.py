"""No page and no query can be made to answer questions about a secret column.

The probe of issue 19: a view-only user asked ``?signing_secret__startswith=whsec_k`` and read
"1 API key" or "0 API keys"; ``__lt`` gave the whole secret in 353 requests.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError
from django.urls import reverse

from django_webhooks.models import ApiKey, Webhook
from tests.factories import staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rotated_key(rotated_key_rows):
    return rotated_key_rows[0]


def probes(api_key: ApiKey) -> list[tuple[str, str]]:
    """(change list, query) pairs, each asking something true about the key's secrets."""
    secret, previous = api_key.signing_secret, api_key.previous_signing_secret
    key = f"id__exact={api_key.pk}"
    return [
        ("apikey", f"{key}&signing_secret__startswith={secret[:8]}"),
        ("apikey", f"{key}&signing_secret__lt=~"),
        ("apikey", f"{key}&signing_secret={secret}"),
        ("apikey", f"{key}&previous_signing_secret__startswith={previous[:8]}"),
        ("apikey", f"{key}&hashed_key__regex=^sha512"),
        ("apikey", f"{key}&signing_secret__isnull=False"),
        ("webhook", f"api_key__signing_secret__startswith={secret[:8]}"),
        ("webhook", "api_key__hashed_key__regex=^sha512"),
        ("deliveryattempt", f"webhook__api_key__signing_secret__startswith={secret[:8]}"),
        ("deliveryattempt", "webhook__api_key__previous_signing_secret__gt=a"),
    ]


@pytest.mark.parametrize("who", ["view_only", "superuser"])
def test_a_lookup_on_a_secret_column_is_refused_on_every_change_list(
    client, admin_client, rotated_key, who
):
    if who == "view_only":
        staff_client(client, "view_apikey", "view_webhook", "view_deliveryattempt")
    else:
        client = admin_client
    for model, query in probes(rotated_key):
        url = reverse(f"admin:django_webhooks_{model}_changelist")
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400, (query, response.status_code)


def test_a_true_and_a_false_guess_get_the_same_answer(admin_client, rotated_key):
    url = reverse("admin:django_webhooks_apikey_changelist")
    secret = rotated_key.signing_secret
    right = admin_client.get(f"{url}?signing_secret__startswith={secret[:10]}")
    wrong = admin_client.get(f"{url}?signing_secret__startswith=whsec_!")
    assert (right.status_code, right.content) == (wrong.status_code, wrong.content)


@pytest.mark.parametrize(
    "lookup",
    [
        {"signing_secret__startswith": "whsec_"},
        {"signing_secret__lt": "~"},
        {"signing_secret": "whsec_x"},
        {"previous_signing_secret__gt": ""},
        {"hashed_key__regex": "^sha512"},
    ],
)
def test_the_orm_itself_refuses_to_look_into_a_secret(rotated_key, lookup):
    with pytest.raises(FieldError):
        list(ApiKey.objects.filter(**lookup))
    with pytest.raises(FieldError):
        list(Webhook.objects.filter(**{f"api_key__{name}": v for name, v in lookup.items()}))


def test_the_secrets_are_still_stored_and_read_back(rotated_key):
    fresh = ApiKey.objects.get(pk=rotated_key.pk)
    assert fresh.signing_secret == rotated_key.signing_secret
    assert fresh.previous_signing_secret == rotated_key.previous_signing_secret
    api_key, token = ApiKey.objects.create_key(name="Fresh")
    assert ApiKey.objects.get_from_token(token) == api_key
