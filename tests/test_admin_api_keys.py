"""API keys in the admin: secrets shown once, rotation, revocation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from django_webhooks import signing
from django_webhooks.models import ApiKey

pytestmark = pytest.mark.django_db

KEYS = "/admin/django_webhooks/apikey/"


def one_time_value(response, css_class: str) -> str:
    match = re.search(rf'<code class="{css_class}">([^<]+)</code>', response.content.decode())
    assert match, f"no {css_class} on the page"
    return match.group(1)


def stored_anywhere(client, secret: str) -> bool:
    """Whether ``secret`` sits in a cookie or the session, waiting to be shown later."""
    in_cookies = any(secret in morsel.value for morsel in client.cookies.values())
    return in_cookies or secret in str(dict(client.session))


def test_adding_a_key_shows_its_token_and_signing_secret_once(admin_client):
    response = admin_client.post(KEYS + "add/", {"name": "Warehouse"})

    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="Warehouse")
    token = one_time_value(response, "api-key-token")
    assert ApiKey.objects.get_from_token(token) == api_key
    assert one_time_value(response, "api-key-signing-secret") == api_key.signing_secret
    assert "no-store" in response["Cache-Control"]
    assert not stored_anywhere(admin_client, token)
    assert not stored_anywhere(admin_client, api_key.signing_secret)
    # Never again:
    change = admin_client.get(reverse("admin:django_webhooks_apikey_change", args=[api_key.pk]))
    assertNotContains(change, api_key.signing_secret)
    assertNotContains(change, token)
    assertContains(change, "Hidden: it is shown only once")


def test_a_key_added_in_a_popup_still_shows_its_secrets(admin_client):
    response = admin_client.post(KEYS + "add/?_popup=1", {"name": "Popup", "_popup": "1"})

    api_key = ApiKey.objects.get(name="Popup")
    assert ApiKey.objects.get_from_token(one_time_value(response, "api-key-token")) == api_key


def test_the_add_page_asks_only_for_a_name_and_an_expiry(admin_client):
    response = admin_client.get(KEYS + "add/")

    assert list(response.context["adminform"].form.fields) == ["name", "expiry_date"]


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_signing(admin_client):
    api_key, _token = ApiKey.objects.create_key(name="Warehouse")
    old_secret = api_key.signing_secret
    rotate = reverse("admin:django_webhooks_apikey_rotate", args=[api_key.pk])
    change = admin_client.get(reverse("admin:django_webhooks_apikey_change", args=[api_key.pk]))
    assertContains(change, f'href="{rotate}"')

    confirm = admin_client.get(rotate)
    assertContains(confirm, "Rotate the signing secret?")
    assertContains(confirm, "for 24 hours")
    api_key.refresh_from_db()
    assert api_key.signing_secret == old_secret  # asking changes nothing

    response = admin_client.post(rotate, {"rotating": confirm.context["hidden"]["rotating"]})

    api_key.refresh_from_db()
    new_secret = one_time_value(response, "api-key-signing-secret")
    assert new_secret == api_key.signing_secret != old_secret
    assert new_secret.startswith(signing.SECRET_PREFIX)
    assert api_key.active_signing_secrets() == [new_secret, old_secret]
    expires = api_key.previous_signing_secret_expires_at
    assert timedelta(hours=23, minutes=59) < expires - timezone.now() <= timedelta(hours=24)
    assertNotContains(response, old_secret)
    assertNotContains(response, "api-key-token")  # the token cannot be shown: only its hash is kept
    later = admin_client.get(reverse("admin:django_webhooks_apikey_change", args=[api_key.pk]))
    assertNotContains(later, new_secret)
    assertContains(later, ", the previous secret also signs every delivery.")


def test_reloading_the_new_secret_does_not_rotate_again(admin_client):
    api_key, _token = ApiKey.objects.create_key(name="Warehouse")
    old_secret = api_key.signing_secret
    rotate = reverse("admin:django_webhooks_apikey_rotate", args=[api_key.pk])
    form = {"rotating": admin_client.get(rotate).context["hidden"]["rotating"]}
    assert old_secret not in str(form)

    admin_client.post(rotate, form)
    again = admin_client.post(rotate, form, follow=True)  # the browser's "resubmit"

    api_key.refresh_from_db()
    assert api_key.previous_signing_secret == old_secret  # still signing for the receiver
    assert "The signing secret was rotated meanwhile; nothing was changed." in [
        str(m) for m in again.context["messages"]
    ]
    assertNotContains(again, api_key.signing_secret)
    assert admin_client.post(rotate).status_code == 302  # no form, no rotation
    api_key.refresh_from_db()
    assert api_key.previous_signing_secret == old_secret


def test_revoking_a_key(admin_client):
    api_key, token = ApiKey.objects.create_key(name="Warehouse")
    revoke = reverse("admin:django_webhooks_apikey_revoke", args=[api_key.pk])

    assertContains(admin_client.get(revoke), "This cannot be undone.")
    response = admin_client.post(revoke, follow=True)

    api_key.refresh_from_db()
    assert api_key.revoked
    assert ApiKey.objects.get_from_token(token) is None
    assert "The API key “Warehouse” was revoked." in [str(m) for m in response.context["messages"]]
    assertNotContains(response, revoke)  # nothing left to revoke or rotate
    assert admin_client.post(revoke).status_code == 403
    rotate = reverse("admin:django_webhooks_apikey_rotate", args=[api_key.pk])
    assert admin_client.post(rotate).status_code == 403


def test_revoke_action(admin_client):
    first, _ = ApiKey.objects.create_key(name="One")
    second, _ = ApiKey.objects.create_key(name="Two")
    kept, _ = ApiKey.objects.create_key(name="Three")

    response = admin_client.post(
        KEYS,
        {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert set(ApiKey.objects.filter(revoked=True).values_list("name", flat=True)) == {"One", "Two"}
    kept.refresh_from_db()
    assert not kept.revoked
    assert "Revoked 2 API keys." in [str(m) for m in response.context["messages"]]


def test_a_revoked_key_cannot_be_revived_from_its_form(admin_client):
    api_key, _ = ApiKey.objects.create_key(name="Gone", revoked=True)

    admin_client.post(
        reverse("admin:django_webhooks_apikey_change", args=[api_key.pk]),
        {"name": "Back", "revoked": ""},
    )

    api_key.refresh_from_db()
    assert api_key.revoked
    assert api_key.name == "Gone"
