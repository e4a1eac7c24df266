"""The Settings section's overview: the last 24 hours, the backlog, failures, switch-offs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from django_webhooks.models import DeliveryAttempt
from tests.factories import make_attempt, make_webhook, staff_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("woken")]
Status = DeliveryAttempt.Status
URL = "/admin/django_webhooks/overview/"


def test_the_overview_shows_the_day_the_backlog_and_what_needs_a_look(admin_client, api_key):
    now = timezone.now()
    good = make_webhook(api_key, url="https://erp.example/hooks")
    bad = make_webhook(api_key, url="https://flaky.example/in")
    off = make_webhook(api_key, url="https://old.example/in")
    off.deactivate("HTTP 410: the webhook was deactivated.")
    for hours_ago in (0, 0, 3):
        make_attempt(good, Status.SUCCEEDED, created_at=now - timedelta(hours=hours_ago))
    for _ in range(3):
        make_attempt(bad, Status.FAILED, created_at=now - timedelta(minutes=5))
    make_attempt(good, Status.SUCCEEDED, created_at=now - timedelta(hours=30))  # out of the window
    make_attempt(bad, Status.SCHEDULED, created_at=now - timedelta(minutes=2))  # due 2 min ago

    response = admin_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    health = response.context["health"]
    assert (health.succeeded, health.failed) == (3, 3)
    assert len(health.hours) == 24
    assert [hour.succeeded for hour in health.hours][-4:] == [1, 0, 0, 2]
    assert page.count('class="dw-chart-succeeded"') == 2
    assert page.count('class="dw-chart-failed"') == 1
    overview = response.context["overview"]
    assert overview.backlog.due == 1
    assert 110 <= response.context["oldest_due_seconds"] <= 130
    assert [(row.webhook, row.failed, row.succeeded) for row in overview.failing] == [(bad, 3, 0)]
    assert overview.switched_off == [off]
    assert "https://flaky.example/in" in page
    assert "HTTP 410: the webhook was deactivated." in page
    assert "cdn" not in page.lower()
    assert '<script src="http' not in page


def test_the_overview_costs_the_same_queries_however_busy_the_store_was(admin_client, api_key):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(URL).status_code == 200
        return len(captured.captured_queries)

    make_attempt(make_webhook(api_key), Status.FAILED)
    quiet = queries()
    webhooks = [make_webhook(api_key, url=f"https://r{n}.example/") for n in range(6)]
    for n in range(60):
        make_attempt(webhooks[n % 6], Status.FAILED if n % 3 else Status.SUCCEEDED)
    for webhook in webhooks[:4]:
        webhook.deactivate("gone")
    assert queries() == quiet


def test_who_may_read_the_delivery_log_may_read_the_overview(client):
    assert staff_client(client, "view_deliveryattempt").get(URL).status_code == 200


def test_staff_without_a_view_permission_are_refused(client):
    assert staff_client(client).get(URL).status_code == 403


def test_the_overview_is_a_page_not_a_second_set_of_webhook_pages(admin_client, api_key):
    webhook = make_webhook(api_key)
    with pytest.raises(NoReverseMatch):
        reverse("admin:django_webhooks_overview_change", args=[webhook.pk])
    assert admin_client.get(f"{URL}{webhook.pk}/change/").status_code == 404
    assert admin_client.get(f"{URL}add/").status_code == 404
