"""Model helpers: event ids, the Default key, tokens only as hashes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_webhooks import tokens
from django_webhooks.models import ApiKey, event_id_floor, new_event_id


def test_event_ids_sort_by_time_and_floor_bounds_them(clock):
    # Ids follow Django's clock, the one Event.created_at is read from.
    moment = clock.now
    made_then = new_event_id()
    clock.advance(0.001)
    made_later = new_event_id()
    assert made_then < made_later
    assert event_id_floor(moment) <= made_then < event_id_floor(moment + timedelta(milliseconds=1))
    assert len(made_then) == 30
    assert made_then.startswith("evt_")


def test_event_ids_of_one_millisecond_keep_their_order(clock):
    made = [new_event_id() for _ in range(100)]
    assert made == sorted(made)
    assert len(set(made)) == 100


@pytest.mark.django_db
def test_migrate_creates_the_default_key():
    default = ApiKey.objects.default()
    assert default is not None
    assert default.name == "Default"
    assert default.signing_secret.startswith("whsec_")


@pytest.mark.django_db
def test_a_token_is_stored_only_as_a_hash():
    api_key, token = ApiKey.objects.create_key(name="Accounting")
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert token not in str(stored)
    assert stored["hashed_key"] == tokens.hash_token(token)
    assert ApiKey.objects.get_from_token(token) == api_key
    assert ApiKey.objects.get_from_token(token + "x") is None
    api_key.revoked = True
    api_key.save()
    assert ApiKey.objects.get_from_token(token) is None
