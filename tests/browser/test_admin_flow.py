"""The store owner's path through the admin, in a real browser against a real qcluster.

Log in, add a webhook (Settings > Webhooks > Add webhook), create an order, watch the delivery
arrive in the delivery log, redeliver it, and look at the webhook's health. Screenshots are
kept under test-artifacts/browser/.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from django_webhooks.models import ApiKey, DeliveryAttempt, Webhook
from tests.browser.support import shot
from tests.cluster import Cluster, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_owner_adds_a_webhook_and_redelivers_an_order(live_server, receiver, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    User.objects.create_superuser("owner", "owner@shop.example", "correct horse")
    # `migrate` made it, but an earlier transactional test may have flushed it away.
    default_key = ApiKey.objects.default() or ApiKey.objects.create_key(name="Default")[0]
    destination = receiver.url("/shop")

    with Cluster() as cluster:
        page.goto(f"{live_server.url}/admin/")
        page.get_by_label("Username").fill("owner")
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Log in").click()

        # Settings > Webhooks > Add webhook
        settings_section = page.locator(".app-django_webhooks")
        expect(settings_section.locator("caption")).to_have_text("Settings")
        settings_section.get_by_role("link", name="Webhooks").click()
        page.get_by_role("link", name="Add webhook").click()
        expect(
            page.locator(".breadcrumbs")
        ).to_have_text(  # the separators: text, or CSS since Django 6.1
            re.compile(
                r"^[\s\u203a]*Home[\s\u203a]+Settings[\s\u203a]+Webhooks[\s\u203a]+Add webhook\s*$"
            )
        )
        expect(page.get_by_label("API key")).to_have_value(str(default_key.pk))
        page.get_by_label("Destination URL").fill(destination)
        page.get_by_label("New order").check()
        page.get_by_label("Format").select_option(label="JSON")
        expect(page.get_by_label("Active")).to_be_checked()
        shot(page, "01-add-webhook", full_page=True)
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")
        webhook = Webhook.objects.get(url=destination)
        assert webhook.events == ["order.created"]

        # An order, created in the store's own admin, goes out through the cluster.
        page.goto(f"{live_server.url}/admin/shop/order/add/")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")
        (first,) = receiver.wait_for(1, "/shop", timeout=30)
        assert first.headers["X-Webhook-Event"] == "order.created"
        wait_until(
            lambda: DeliveryAttempt.objects.filter(status="succeeded").exists(),
            timeout=15,
            message="the attempt was not recorded as succeeded:\n"
            + "\n".join(cluster.output[-30:]),
        )

        # The delivery log shows it.
        page.goto(f"{live_server.url}/admin/")
        page.locator(".app-django_webhooks").get_by_role("link", name="Delivery log").click()
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("order.created")
        expect(rows.first.locator(".dw-badge")).to_have_text("Succeeded")
        shot(page, "02-delivery-log", full_page=True)

        # Redeliver it from the attempt's page; a second attempt of the same event arrives.
        rows.first.locator("th a").click()
        expect(page.locator(".field-body_display pre")).to_contain_text('"type": "order.created"')
        shot(page, "03-attempt", full_page=True)
        page.get_by_role("button", name="Redeliver").click()
        expect(page.locator(".messagelist")).to_contain_text(
            "Redelivering: attempt 2 is on its way."
        )
        _first, second = receiver.wait_for(2, "/shop", timeout=30)
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        assert second.headers["X-Webhook-Attempt"] == "2"
        wait_until(
            lambda: DeliveryAttempt.objects.filter(number=2, status="succeeded").exists(),
            timeout=15,
            message="the redelivery was not recorded as succeeded",
        )
        page.reload()
        expect(rows).to_have_count(2)
        expect(page.locator("#result_list .dw-badge--succeeded")).to_have_count(2)
        expect(rows.first).to_contain_text("Redelivery")
        shot(page, "04-redelivered", full_page=True)

        # The webhook's page: health over the last 24 hours and its recent deliveries.
        page.goto(f"{live_server.url}/admin/django_webhooks/webhook/{webhook.pk}/change/")
        health = page.locator("#webhook-health")
        expect(health).to_contain_text("100.0 %")
        expect(health).to_contain_text("2 of 2 attempts succeeded")
        expect(health.locator("rect.dw-chart-succeeded")).to_have_count(1)
        expect(page.locator("#recent-attempts tbody tr")).to_have_count(2)
        expect(page.get_by_role("button", name="Send test event")).to_be_visible()
        shot(page, "05-webhook-health", full_page=True)

        # Settings > Overview: the whole store's last 24 hours and what is waiting.
        page.goto(f"{live_server.url}/admin/django_webhooks/")
        page.get_by_role("link", name="Overview").click()
        expect(page).to_have_url(re.compile(r"/admin/django_webhooks/overview/$"))
        deliveries = page.locator("#overview-deliveries")
        expect(deliveries.locator(".dw-health-figure").first).to_have_text("2")
        expect(deliveries.locator("svg.dw-chart rect.dw-chart-succeeded")).to_have_count(1)
        expect(deliveries.locator("svg.dw-chart rect.dw-chart-failed")).to_have_count(0)
        expect(page.locator("#overview-backlog .dw-overview-due")).to_have_text("0")
        expect(page.locator("#overview-failing")).to_contain_text("No failures")
        expect(page.locator("#overview-switched-off")).to_contain_text("switched on")
        shot(page, "06-overview", full_page=True)
