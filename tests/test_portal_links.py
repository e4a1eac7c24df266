"""Portal links and the session they open: signed, bound to the key, never longer than asked;
made by the command, the admin's button and POST /api/portal-link/; wrong ones budgeted."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_webhooks.checks import check_settings
from django_webhooks.models import ApiKey
from django_webhooks.portal import links, session
from django_webhooks.portal.links import LinkRefused
from tests.api_support import url as api_url
from tests.factories import make_key, make_webhook, staff_client
from tests.portal_support import url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]


def refusal(token: str, salt: str = links.LINK_SALT) -> str:
    with pytest.raises(LinkRefused) as refused:
        links.redeem(token, salt)
    return refused.value.reason


# --- links ------------------------------------------------------------------------------------


def test_a_link_is_valid_one_hour_by_default_and_opens_its_own_key(api_key, clock):
    token, expires_at = links.issue(api_key)

    assert expires_at == clock.now + timedelta(hours=1)
    grant = links.redeem(token)
    assert grant.api_key == api_key
    assert grant.expires_at == expires_at
    clock.advance(3600)
    assert refusal(token) == LinkRefused.EXPIRED


@pytest.mark.parametrize("hours", [0, -1, 25, True, 1.5, "2"])
def test_hours_are_whole_and_capped(api_key, hours):
    with pytest.raises(ValueError, match="from 1 to 24"):
        links.issue(api_key, hours)


def test_the_cap_is_a_setting(api_key, settings, clock):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL_LINK_MAX_HOURS": 72}

    _token, expires_at = links.issue(api_key, 72)

    assert expires_at == clock.now + timedelta(hours=72)


def test_an_altered_link_is_refused(api_key):
    token, _expires_at = links.issue(api_key)
    payload, _timestamp, _signature = token.split(":")

    assert refusal(token[:-1] + ("A" if token[-1] != "A" else "B")) == LinkRefused.INVALID
    assert refusal(token[:-10]) == LinkRefused.INVALID
    other_key, _client = make_key("Other")
    forged_payload = links.issue(other_key)[0].split(":")[0]
    assert refusal(token.replace(payload, forged_payload)) == LinkRefused.INVALID
    assert refusal("not-a-link") == LinkRefused.INVALID
    assert refusal(token + "x" * links.MAX_TOKEN_LENGTH) == LinkRefused.INVALID


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda key: key.revoke(), id="revoked"),
        pytest.param(lambda key: key.rotate_signing_secret(), id="secret rotated"),
        pytest.param(lambda key: key.delete(), id="deleted"),
        pytest.param(
            lambda key: ApiKey.objects.filter(pk=key.pk).update(
                expiry_date=timezone.now() - timedelta(seconds=1)
            ),
            id="expired",
        ),
    ],
)
def test_what_happens_to_the_key_voids_its_links(api_key, change):
    tokens = [links.issue(api_key, hours)[0] for hours in (1, 24)]

    change(api_key)

    assert [refusal(token) for token in tokens] == [LinkRefused.VOID, LinkRefused.VOID]


def test_a_key_expiring_first_cuts_the_grant_short(api_key, clock):
    ApiKey.objects.filter(pk=api_key.pk).update(expiry_date=clock.now + timedelta(minutes=10))

    token, _expires_at = links.issue(api_key, 5)

    assert links.redeem(token).expires_at == clock.now + timedelta(minutes=10)


def test_the_link_carries_no_secret(api_key):
    token, _expires_at = links.issue(api_key)

    assert api_key.signing_secret not in token
    assert api_key.signing_secret.removeprefix("whsec_") not in token
    assert api_key.hashed_key not in token


# --- the session ------------------------------------------------------------------------------


def test_opening_a_link_sets_a_session_cookie_that_ends_with_the_link(client, api_key, clock):
    token, _expires_at = links.issue(api_key, 3)

    response = client.get(url("open", token))

    assert response.status_code == 302
    assert response["Location"] == url("home")
    assert "no-store" in response["Cache-Control"]
    cookie = response.cookies[session.COOKIE_NAME]
    assert cookie["max-age"] == 3 * 3600
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == url("home")
    assert token not in cookie.value  # another salt: a cookie is no link, a link no cookie
    clock.advance(3 * 3600 - 1)
    assert client.get(url("home")).status_code == 200
    clock.advance(1)
    assert b"Your session has ended" in client.get(url("home")).content


def test_the_cookie_is_secure_on_https(client, api_key):
    token, _expires_at = links.issue(api_key)

    response = client.get(url("open", token), secure=True)

    assert response.cookies[session.COOKIE_NAME]["secure"]


def test_portal_pages_are_private(client, api_key):
    token, _expires_at = links.issue(api_key)
    client.get(url("open", token))

    response = client.get(url("home"))

    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_leaving_ends_the_session(client, api_key):
    token, _expires_at = links.issue(api_key)
    client.get(url("open", token))

    response = client.post(url("end"))

    assert b"You left the portal" in response.content
    assert response.cookies[session.COOKIE_NAME]["max-age"] == 0
    assert b"Open the portal with a link" in client.get(url("home")).content


def test_a_refused_link_page_says_why_and_nothing_else(client, api_key):
    make_webhook(api_key, url="https://secret-partner.example/hooks")
    token, _expires_at = links.issue(api_key)
    api_key.revoke()

    response = client.get(url("open", token))

    assert response.status_code == 403
    page = response.content.decode()
    assert "This link is no longer valid" in page
    for shown_elsewhere in ("Accounting", "secret-partner.example", "Signing secret", "<form"):
        assert shown_elsewhere not in page
    assert (
        session.COOKIE_NAME not in client.cookies or not client.cookies[session.COOKIE_NAME].value
    )


# --- the failure budget -----------------------------------------------------------------------


def test_wrong_links_are_budgeted_per_address_and_a_good_one_still_opens(client, api_key):
    for _ in range(30):
        assert client.get(url("open", "wrong:link:here")).status_code == 403

    throttled = client.get(url("open", "wrong:link:here"))
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert b"Too many attempts" in throttled.content
    assert client.get(url("open", "wrong:link:here"), REMOTE_ADDR="10.9.8.7").status_code == 403
    good, _expires_at = links.issue(api_key)
    assert client.get(url("open", good)).status_code == 302


def test_the_link_budget_is_not_the_apis(client, api_key):
    from tests.api_support import client_for

    stranger = client_for("AbCdEfGh.not-a-real-token")
    for _ in range(30):
        stranger.get(api_url("webhook-list"))

    assert client.get(url("open", "wrong:link:here")).status_code == 403


def test_no_budget_when_throttling_is_off(client, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": None}

    statuses = {client.get(url("open", "wrong:link:here")).status_code for _ in range(35)}

    assert statuses == {403}


def test_opening_is_logged_without_the_link(client, api_key, caplog):
    token, _expires_at = links.issue(api_key)

    with caplog.at_level("INFO", logger="django_webhooks.portal"):
        client.get(url("open", token))

    assert "Portal opened for API key 'Accounting'" in caplog.text
    assert token not in caplog.text


# --- manage.py webhooks_portal_link -----------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("webhooks_portal_link", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_a_link_on_its_last_line(client, api_key, clock):
    out, err = run("Accounting", "--hours", "4", "--base-url", "https://store.example/")

    link = out.strip().splitlines()[-1]
    assert link.startswith("https://store.example/portal/open/")
    token = link.removeprefix("https://store.example/portal/open/").rstrip("/")
    grant = links.redeem(token)
    assert grant.api_key == api_key
    assert grant.expires_at == clock.now + timedelta(hours=4)
    assert "send it to the key's owner only" in err


def test_the_command_takes_the_base_url_from_the_settings(api_key, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL_BASE_URL": "https://shop.example"}

    out, _err = run("Accounting")

    assert out.strip().startswith("https://shop.example/portal/open/")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Nobody", "--base-url", "https://s.example"], "No API key is named “Nobody”"),
        (["Accounting"], "--base-url"),
        (["Accounting", "--base-url", "store.example"], "must start with https://"),
        (["Accounting", "--hours", "25", "--base-url", "https://s.example"], "from 1 to 24"),
    ],
)
def test_the_command_says_what_is_wrong(api_key, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_the_command_refuses_a_revoked_key_and_an_ambiguous_name(api_key):
    api_key.revoke()
    with pytest.raises(CommandError, match="revoked or expired"):
        run("Accounting", "--base-url", "https://s.example")
    make_key("Twin")
    make_key("Twin")
    with pytest.raises(CommandError, match="Several usable API keys"):
        run("Twin", "--base-url", "https://s.example")


def test_the_command_says_when_the_portal_is_off(api_key, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL": False}

    with pytest.raises(CommandError, match="switched off"):
        run("Accounting", "--base-url", "https://s.example")


# --- POST /api/portal-link/ -------------------------------------------------------------------


def test_a_back_end_gets_a_link_for_its_own_key(client, accounting, warehouse, clock):
    _api_key, api = accounting

    response = api.post(api_url("portal-link"), {"hours": 2}, format="json")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["expires_at"] == (clock.now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["url"].startswith("http://testserver/portal/open/")
    assert client.get(body["url"].removeprefix("http://testserver")).status_code == 302
    home = client.get(url("home")).content
    assert b'<span class="pt-brand-key">Accounting</span>' in home
    assert b"Warehouse" not in home


def test_without_a_body_the_link_lasts_an_hour(accounting, clock):
    _api_key, api = accounting

    response = api.post(api_url("portal-link"))

    assert response.status_code == 200
    assert response.json()["expires_at"] == (clock.now + timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hours": 0}, "hours"),
        ({"hours": 25}, "hours"),
        ({"hours": "2"}, "hours"),
        ({"hours": True}, "hours"),
        ({"hours": 1.5}, "hours"),
        ({"hour": 2}, "hour"),
    ],
)
def test_bad_hours_answer_400(accounting, body, field):
    _api_key, api = accounting

    response = api.post(api_url("portal-link"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_the_api_uses_the_base_url_setting(accounting, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL_BASE_URL": "https://shop.example/"}
    _api_key, api = accounting

    response = api.post(api_url("portal-link"))

    assert response.json()["url"].startswith("https://shop.example/portal/open/")


def test_the_api_needs_a_key_and_the_portal(client, accounting, settings):
    from rest_framework.test import APIClient

    assert APIClient().post(api_url("portal-link")).status_code == 401
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL": False}
    assert accounting[1].post(api_url("portal-link")).status_code == 404


# --- the admin's "Portal link" ----------------------------------------------------------------


def test_the_admin_makes_a_link_to_copy(admin_client, client, api_key):
    change = admin_client.get(f"/admin/django_webhooks/apikey/{api_key.pk}/change/")
    assert b">Portal link</a>" in change.content

    form = admin_client.get(f"/admin/django_webhooks/apikey/{api_key.pk}/portal-link/")
    assert b'name="hours" value="1"' in form.content
    response = admin_client.post(
        f"/admin/django_webhooks/apikey/{api_key.pk}/portal-link/", {"hours": "3"}
    )

    page = response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert 'data-copy="#portal-link"' in page
    link = page.split('id="portal-link" class="vTextField dw-portal-link-value" value="')[1]
    link = link.split('"')[0]
    assert link.startswith("http://testserver/portal/open/")
    assert client.get(link.removeprefix("http://testserver")).status_code == 302
    entry = LogEntry.objects.get(object_id=str(api_key.pk))
    assert "Made a portal link" in entry.get_change_message()


def test_the_admin_refuses_bad_hours(admin_client, api_key):
    response = admin_client.post(
        f"/admin/django_webhooks/apikey/{api_key.pk}/portal-link/", {"hours": "99"}
    )

    assert b"from 1 to 24" in response.content
    assert b"/portal/open/" not in response.content


def test_only_staff_who_may_change_keys_make_links(client, api_key):
    staff_client(client, "view_apikey")

    change = client.get(f"/admin/django_webhooks/apikey/{api_key.pk}/change/")
    assert b"Portal link" not in change.content
    response = client.post(f"/admin/django_webhooks/apikey/{api_key.pk}/portal-link/", {"hours": 1})
    assert response.status_code == 403


def test_no_portal_link_for_a_revoked_key_or_with_the_portal_off(admin_client, api_key, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL": False}
    change = admin_client.get(f"/admin/django_webhooks/apikey/{api_key.pk}/change/")
    assert b"Portal link" not in change.content
    assert (
        admin_client.get(f"/admin/django_webhooks/apikey/{api_key.pk}/portal-link/").status_code
        == 404
    )
    settings.WEBHOOKS = {**settings.WEBHOOKS, "PORTAL": True}
    api_key.revoke()
    assert (
        admin_client.get(f"/admin/django_webhooks/apikey/{api_key.pk}/portal-link/").status_code
        == 403
    )


# --- checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("PORTAL", "yes", "E050"),
        ("PORTAL_LINK_MAX_HOURS", 0, "E051"),
        ("PORTAL_LINK_MAX_HOURS", 1.5, "E051"),
        ("PORTAL_LINK_MAX_HOURS", 10**6, "E051"),
        ("PORTAL_BASE_URL", "store.example", "E052"),
        ("PORTAL_BASE_URL", "https://user:pw@store.example", "E052"),
        ("PORTAL_BASE_URL", 7, "E052"),
    ],
)
def test_wrong_portal_settings_are_check_errors(settings, name, value, check_id):
    settings.WEBHOOKS = {"ORDER_MODEL": "shop.Order", name: value}

    assert [message.id for message in check_settings()] == [f"django_webhooks.{check_id}"]


def test_good_portal_settings_pass(settings):
    settings.WEBHOOKS = {
        "ORDER_MODEL": "shop.Order",
        "PORTAL": False,
        "PORTAL_LINK_MAX_HOURS": 168,
        "PORTAL_BASE_URL": "https://store.example/shop",
    }

    assert check_settings() == []
