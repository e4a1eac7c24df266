"""Every portal view holds the session to its key: another key's ids, a revoked key, a rotated
secret, no session, an expired one, a forged one, a missing CSRF token, the portal off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from django_webhooks.models import DeliveryAttempt, Webhook
from django_webhooks.portal import links, session
from tests.factories import Status, make_attempt, make_key, make_webhook
from tests.portal_support import VIEWS, VIEWS_WITH_IDS, open_portal, url, view_id

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("woken", "fresh_throttle_counts")]


@pytest.fixture
def ours(db):
    api_key, _client = make_key("Accounting")
    webhook = make_webhook(api_key, url="https://accounting.example/hooks")
    attempt = make_attempt(webhook, Status.FAILED, response_status=500)
    return api_key, webhook, attempt


@pytest.fixture
def theirs(db):
    api_key, _client = make_key("Warehouse")
    webhook = make_webhook(api_key, url="https://warehouse.example/hooks", is_active=False)
    attempt = make_attempt(webhook, Status.FAILED, response_status=500)
    return api_key, webhook, attempt


def post_data(name: str, api_key) -> dict:
    return {
        "add": {"url": "https://new.example/hooks", "events": ["order.created"]},
        "change": {"url": "https://changed.example/hooks", "events": ["order.deleted"]},
        "recover": {"since": "2020-01-01T00:00"},
        "test": {"type": "webhook.test"},
        "rotate": {"rotating": links.key_version(api_key)},
    }.get(name, {})


def call(client: Client, view, rows, api_key):
    method, name, kind = view
    _key, webhook, attempt = rows
    args = [] if kind is None else [webhook.pk if kind == "webhook" else attempt.pk]
    if method == "get":
        return client.get(url(name, *args))
    return client.post(url(name, *args), post_data(name, api_key))


def state(rows) -> tuple:
    """What any view could change of these rows."""
    api_key, webhook, _attempt = rows
    api_key.refresh_from_db()
    stored = Webhook.objects.filter(pk=webhook.pk).values_list("url", "events", "is_active")
    return (
        api_key.signing_secret,
        list(stored),
        DeliveryAttempt.objects.filter(webhook__api_key=api_key).count(),
        Webhook.objects.filter(api_key=api_key).count(),
    )


@pytest.mark.parametrize("view", VIEWS_WITH_IDS, ids=view_id)
def test_another_keys_ids_answer_404_and_change_nothing(client, ours, theirs, view):
    open_portal(client, ours[0])
    before = state(theirs)

    response = call(client, view, theirs, ours[0])

    assert response.status_code == 404
    assert state(theirs) == before
    assert theirs[1].url.encode() not in response.content


@pytest.mark.parametrize("view", VIEWS_WITH_IDS, ids=view_id)
def test_the_same_view_reaches_the_keys_own_rows(client, ours, view):
    open_portal(client, ours[0])

    response = call(client, view, ours, ours[0])

    assert response.status_code in (200, 302)


def test_the_overview_lists_only_the_keys_own_webhooks(client, ours, theirs):
    open_portal(client, ours[0])

    response = client.get(url("home"))

    assert ours[1].url.encode() in response.content
    assert theirs[1].url.encode() not in response.content
    assert b"Warehouse" not in response.content


def refusal_of(response) -> str:
    assert response.status_code == 403, response.status_code
    assert b"<nav" not in response.content
    assert b"<table" not in response.content
    return response.content.decode()


@pytest.mark.parametrize("view", VIEWS, ids=view_id)
def test_revoking_the_key_ends_its_sessions_at_once(client, ours, view):
    open_portal(client, ours[0])
    ours[0].revoke()
    before = state(ours)

    page = refusal_of(call(client, view, ours, ours[0]))

    assert "This link is no longer valid" in page
    assert ours[1].url not in page
    assert "Accounting" not in page
    assert state(ours) == before


@pytest.mark.parametrize("view", VIEWS, ids=view_id)
def test_rotating_the_secret_elsewhere_ends_its_sessions(client, ours, view):
    open_portal(client, ours[0])
    ours[0].rotate_signing_secret()  # through the API or the admin
    before = state(ours)

    page = refusal_of(call(client, view, ours, ours[0]))

    assert "This link is no longer valid" in page
    assert ours[0].signing_secret not in page
    assert state(ours) == before


@pytest.mark.parametrize("view", VIEWS, ids=view_id)
def test_without_a_session_every_view_shows_only_how_to_get_in(client, ours, view):
    before = state(ours)

    page = refusal_of(call(client, view, ours, ours[0]))

    assert "Open the portal with a link" in page
    assert state(ours) == before


@pytest.mark.parametrize("view", VIEWS, ids=view_id)
def test_an_expired_session_is_refused_even_if_the_browser_still_sends_it(
    client, ours, clock, view
):
    open_portal(client, ours[0], hours=2)
    clock.advance(2 * 3600 + 1)
    before = state(ours)

    page = refusal_of(call(client, view, ours, ours[0]))

    assert "Your session has ended" in page
    assert state(ours) == before


@pytest.mark.parametrize("view", VIEWS, ids=view_id)
def test_a_forged_session_cookie_is_refused(client, ours, view):
    forged = signing.dumps(
        {"k": ours[0].pk, "v": links.key_version(ours[0]), "e": 2_000_000_000},
        key="not the store's SECRET_KEY",
        salt=links.SESSION_SALT,
    )
    client.cookies[session.COOKIE_NAME] = forged
    before = state(ours)

    page = refusal_of(call(client, view, ours, ours[0]))

    assert "This link is not valid" in page
    assert state(ours) == before


def test_a_link_token_is_no_session_cookie_and_the_reverse(client, ours):
    token, _expires_at = links.issue(ours[0])
    client.cookies[session.COOKIE_NAME] = token
    assert "This link is not valid" in refusal_of(client.get(url("home")))

    cookie = links.sign(ours[0], timezone.now() + timedelta(hours=1), links.SESSION_SALT)
    assert "This link is not valid" in refusal_of(client.get(url("open", cookie)))


@pytest.mark.parametrize("view", [view for view in VIEWS if view[0] == "post"], ids=view_id)
def test_every_form_needs_its_csrf_token(ours, view):
    client = open_portal(Client(enforce_csrf_checks=True), ours[0])
    before = state(ours)

    response = call(client, view, ours, ours[0])

    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert state(ours) == before


@pytest.mark.parametrize("view", VIEWS, ids=view_id)
def test_switched_off_every_portal_url_answers_404(client, ours, settings, view):
    open_portal(client, ours[0])
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL": False}
    before = state(ours)

    response = call(client, view, ours, ours[0])

    assert response.status_code == 404
    assert state(ours) == before


def test_switched_off_a_link_answers_404(client, ours, settings):
    token, _expires_at = links.issue(ours[0])
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL": False}

    assert client.get(url("open", token)).status_code == 404
    assert client.post(url("end")).status_code == 404
    assert session.COOKIE_NAME not in client.cookies
