"""The third party's path through the consumer portal, in Chromium, against a real qcluster.

The admin's Portal link is made and copied to the clipboard. A link made by
``manage.py webhooks_portal_link`` opens the portal; the key's webhook is
there and another key's is not; a real delivery is found by its event id and redelivered (the
receiver gets it again with the same ``webhook-id``); a webhook is added (a refused URL first,
in the API's words; a custom header, write-only; an event type's example payload) and sent a
test event of a chosen type, then deleted; the signing secret is revealed and rotated. An
altered and an expired link show nothing but a refusal. Every page is a screenshot under
test-artifacts/browser/portal-*.png, and the test's wall time goes to
test-artifacts/portal.json.
"""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as StandardWebhook

from django_webhooks.models import ApiKey, DeliveryAttempt, Webhook
from django_webhooks.portal import links
from example_project.shop.models import Order
from tests.artifacts import report
from tests.browser.support import DESKTOP, shot
from tests.cluster import Cluster, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


def portal_link(live_server, name: str) -> str:
    out = StringIO()
    call_command(
        "webhooks_portal_link", name, "--base-url", live_server.url, stdout=out, stderr=StringIO()
    )
    return out.getvalue().strip().splitlines()[-1]


def test_a_third_party_fixes_its_webhooks_in_the_portal(
    live_server, receiver, chromium, browser_page
):
    from playwright.sync_api import expect

    started = time.monotonic()
    page = browser_page
    accounting, _token = ApiKey.objects.create_key(name="Accounting")
    warehouse, _token = ApiKey.objects.create_key(name="Warehouse")
    ours = Webhook.objects.create(
        api_key=accounting, url=receiver.url("/accounting"), events=["order.created"]
    )
    theirs = Webhook.objects.create(
        api_key=warehouse, url="https://warehouse.example/hooks", events=["order.deleted"]
    )

    # The store owner's "Portal link" in the admin: made, copied to the clipboard, and it opens.
    User.objects.create_superuser("owner", "owner@shop.example", "correct horse")
    owner = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    owner.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    admin = owner.new_page()
    admin.goto(f"{live_server.url}/admin/django_webhooks/apikey/{accounting.pk}/change/")
    admin.get_by_label("Username").fill("owner")
    admin.get_by_label("Password").fill("correct horse")
    admin.get_by_role("button", name="Log in").click()
    admin.get_by_role("link", name="Portal link").click()
    admin.get_by_label("Valid for (hours)").fill("2")
    admin.get_by_role("button", name="Make a portal link").click()
    admin.get_by_role("button", name="Copy to clipboard").click()
    expect(admin.get_by_role("button", name="Copied")).to_be_visible()
    copied = admin.evaluate("navigator.clipboard.readText()")
    assert copied == admin.locator("#portal-link").input_value()
    assert copied.startswith(f"{live_server.url}/portal/open/")
    shot(admin, "portal-00-admin-link", full_page=True)
    admin.goto(copied)
    expect(admin.locator(".pt-brand-key")).to_have_text("Accounting")
    owner.close()

    with Cluster() as cluster:
        with transaction.atomic():
            Order.objects.create()
        (first,) = receiver.wait_for(1, "/accounting", timeout=30)
        event_id = first.headers["webhook-id"]
        wait_until(
            lambda: DeliveryAttempt.objects.filter(webhook=ours, status="succeeded").exists(),
            timeout=15,
            message="the delivery was not recorded:\n" + "\n".join(cluster.output[-30:]),
        )

        # The link opens the portal and leaves the address bar.
        link = portal_link(live_server, "Accounting")
        page.goto(link)
        expect(page).to_have_url(f"{live_server.url}/portal/")
        page.keyboard.press("Tab")  # the keyboard's first stop: past the header, to the content
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        expect(page.get_by_role("heading", name="Your webhooks")).to_be_visible()
        expect(page.get_by_role("link", name=ours.url)).to_be_visible()
        expect(page.locator("body")).not_to_contain_text(theirs.url)
        expect(page.locator(".pt-figure").first).to_have_text("100.0 %")
        shot(page, "portal-01-webhooks", full_page=True)

        # The delivery, found by its event id, its body as sent; redelivered.
        page.get_by_role("link", name=ours.url).click()
        page.get_by_label("Event id").fill(event_id.lower())  # pasted in any case
        page.get_by_role("button", name="Find").click()
        deliveries = page.locator("tbody.pt-delivery")
        expect(deliveries).to_have_count(1)
        expect(deliveries.first).to_contain_text(event_id)
        expect(deliveries.first.locator(".pt-badge")).to_have_text("Succeeded")
        deliveries.first.get_by_text("Body sent and answer").click()
        expect(deliveries.first.locator(".pt-body")).to_contain_text(f'"id": "{event_id}"')
        shot(page, "portal-02-webhook", full_page=True)
        deliveries.first.get_by_role("button", name="Redeliver").click()
        expect(page.locator(".pt-messages")).to_contain_text(
            f"Redelivering {event_id}: attempt 2 is on its way."
        )
        _first, second = receiver.wait_for(2, "/accounting", timeout=30)
        assert second.headers["webhook-id"] == event_id
        assert second.headers["X-Webhook-Attempt"] == "2"
        wait_until(
            lambda: DeliveryAttempt.objects.filter(
                webhook=ours, number=2, status="succeeded"
            ).exists(),
            timeout=15,
            message="the redelivery was not recorded as succeeded",
        )
        page.reload()
        expect(deliveries).to_have_count(2)
        expect(page.locator("tbody.pt-delivery .pt-badge--succeeded")).to_have_count(2)
        expect(deliveries.first).to_contain_text("Redelivery")
        shot(page, "portal-03-redelivered", full_page=True)

        # On a phone: each delivery a card, nothing wider than the screen.
        phone = chromium.new_context(viewport=PHONE, locale="en-GB")
        phone.add_cookies(page.context.cookies())
        phone_page = phone.new_page()
        phone_page.goto(page.url)
        expect(phone_page.locator("tbody.pt-delivery")).to_have_count(2)
        assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(phone_page, "portal-04-phone", full_page=True)
        phone.close()

        # A new webhook: the API's own message for a refused URL, then saved.
        page.get_by_role("link", name="Webhooks", exact=True).click()
        page.get_by_role("link", name="Add webhook").click()
        page.get_by_label("Destination URL").fill("ftp://files.example/in")
        page.get_by_label("New order").check()
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator("#id_url_error")).to_have_text("Use an http:// or https:// URL.")
        expect(page.get_by_label("Destination URL")).to_have_attribute("aria-invalid", "true")
        shot(page, "portal-05-add-refused", full_page=True)
        second_url = receiver.url("/second")
        page.get_by_label("Destination URL").fill(second_url)
        expect(page.get_by_label("Set custom headers")).to_have_value("")  # write-only
        page.get_by_label("Set custom headers").fill("Authorization: Bearer receiver-token")
        new_order = page.locator(".pt-check", has=page.get_by_label("New order"))
        new_order.get_by_text("Example payload").click()
        expect(new_order.locator("pre")).to_contain_text('"type": "order.created"')
        shot(page, "portal-06-add", full_page=True)
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator(".pt-messages")).to_contain_text("The webhook was added.")
        added = Webhook.objects.get(url=second_url)
        assert added.api_key == accounting
        assert added.events == ["order.created"]
        expect(page.locator("body")).not_to_contain_text("receiver-token")

        # A test event of a chosen type reaches it: its example, signed, with the header.
        page.locator("#test-type").select_option("order.created")
        page.get_by_role("button", name="Send test event").click()
        expect(page.locator(".pt-messages")).to_contain_text("A test event (order.created)")
        (test_delivery,) = receiver.wait_for(1, "/second", timeout=30)
        assert test_delivery.headers["X-Webhook-Event"] == "order.created"
        assert test_delivery.headers["Authorization"] == "Bearer receiver-token"
        StandardWebhook(accounting.signing_secret).verify(test_delivery.body, test_delivery.headers)
        shot(page, "portal-07-added", full_page=True)

    # Deleted again, after a confirmation; its log stays with the store.
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete webhook")).to_be_visible()
    shot(page, "portal-07-delete", full_page=True)
    page.get_by_role("button", name="Delete webhook").click()
    expect(page.locator(".pt-messages")).to_contain_text("was deleted")
    assert not Webhook.objects.filter(url=second_url).exists()
    assert DeliveryAttempt.objects.filter(url=second_url, webhook=None).exists()

    # The signing secret: revealed on a click, then rotated; the session goes on.
    page.get_by_role("link", name="Signing secret").click()
    expect(page.locator("#signing-secret")).to_have_count(0)
    page.get_by_role("button", name="Reveal signing secret").click()
    expect(page.locator("#signing-secret")).to_have_text(accounting.signing_secret)
    shot(page, "portal-08-secret", full_page=True)
    old_secret = accounting.signing_secret
    page.get_by_role("button", name="Rotate signing secret").click()
    expect(page.locator(".pt-notice--success")).to_contain_text("for 24 hours")
    accounting.refresh_from_db()
    assert accounting.signing_secret != old_secret
    assert accounting.previous_signing_secret == old_secret
    expect(page.locator("#signing-secret")).to_have_text(accounting.signing_secret)
    shot(page, "portal-09-rotated", full_page=True)
    page.get_by_role("link", name="Webhooks", exact=True).click()
    expect(page.get_by_role("link", name=ours.url)).to_be_visible()

    # Links: the rotated-out one, an altered one and an expired one show nothing else.
    refusals = chromium.new_page(viewport={"width": 1280, "height": 700}, locale="en-GB")
    fresh = portal_link(live_server, "Accounting")
    signature_start = fresh.rindex(":") + 1
    flipped = "A" if fresh[signature_start] != "A" else "B"
    altered = fresh[:signature_start] + flipped + fresh[signature_start + 1 :]
    expired_token = links.sign(accounting, timezone.now() - timedelta(minutes=1), links.LINK_SALT)
    cases = [
        ("void", link, "This link is no longer valid"),
        ("altered", altered, "This link is not valid"),
        ("expired", f"{live_server.url}/portal/open/{expired_token}/", "This link has expired"),
    ]
    for name, url, heading in cases:
        response = refusals.goto(url)
        assert response.status == 403, name
        expect(refusals.get_by_role("heading", level=1)).to_have_text(heading)
        body = refusals.locator("body")
        for secret_or_data in ("Accounting", ours.url, second_url, event_id):
            expect(body).not_to_contain_text(secret_or_data)
        expect(refusals.locator("nav, form, table")).to_have_count(0)
        shot(refusals, f"portal-10-{name}-link")
        refusals.goto(f"{live_server.url}/portal/")
        expect(refusals.get_by_role("heading", level=1)).to_have_text("Open the portal with a link")
    refusals.close()

    report("portal.json", "browser flow", seconds=round(time.monotonic() - started, 1))
