"""What the portal shows and does: health, deliveries (filters, search, pages, body, answer),
and its buttons: redeliver, send a test event, recover, switch off and on."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from django_webhooks.models import DeliveryAttempt, Event
from django_webhooks.portal import deliveries
from tests.factories import Status, make_attempt, make_event, make_key, make_webhook
from tests.portal_support import open_portal, url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]


@pytest.fixture
def portal(client, api_key):
    return open_portal(client, api_key)


def messages_of(response) -> list[str]:
    return re.findall(r'<li class="pt-message[^"]*"[^>]*>(.*?)</li>', response.content.decode())


def rows_of(response) -> list[str]:
    """The attempt ids of the delivery rows, in the page's order."""
    return re.findall(r'<tbody class="pt-delivery" data-attempt="(\d+)"', response.content.decode())


# --- the overview and health ------------------------------------------------------------------


def test_the_overview_shows_each_webhooks_health(portal, webhook):
    for _ in range(3):
        make_attempt(webhook, Status.SUCCEEDED, response_status=200)
    make_attempt(webhook, Status.FAILED, response_status=503, error="HTTP 503 is not a success.")

    page = portal.get(url("home")).content.decode()

    assert webhook.url in page
    assert "75.0 %" in page
    assert "3 of 4 attempts succeeded" in page
    assert page.count('class="pt-chart-succeeded"') == 1
    assert page.count('class="pt-chart-failed"') == 1
    assert "HTTP 503 is not a success." in page


def test_a_switched_off_webhook_says_why_and_can_be_reactivated(portal, webhook):
    webhook.deactivate("HTTP 410 answered: the receiver asked to be switched off.")

    page = portal.get(url("home")).content.decode()
    assert "Switched off: it gets nothing." in page
    assert "HTTP 410 answered: the receiver asked to be switched off." in page
    assert url("reactivate", webhook.pk) in page

    response = portal.post(url("reactivate", webhook.pk), follow=True)

    webhook.refresh_from_db()
    assert webhook.is_active
    assert webhook.deactivated_reason == ""
    assert "The webhook is active again." in messages_of(response)[0]


def test_switching_off_cancels_what_is_scheduled(portal, webhook):
    scheduled = make_attempt(webhook, Status.SCHEDULED)

    response = portal.post(url("deactivate", webhook.pk), follow=True)

    webhook.refresh_from_db()
    assert not webhook.is_active
    assert webhook.deactivated_reason == "Switched off in the portal."
    scheduled.refresh_from_db()
    assert scheduled.status == Status.CANCELLED
    assert "1 scheduled delivery was cancelled" in messages_of(response)[0]


def test_no_webhooks_yet(portal):
    assert b"No webhooks yet" in portal.get(url("home")).content


# --- deliveries -------------------------------------------------------------------------------


def test_deliveries_newest_first_with_what_was_sent_and_answered(portal, webhook):
    now = timezone.now()
    older = make_attempt(
        webhook,
        Status.FAILED,
        created_at=now - timedelta(minutes=5),
        response_status=500,
        response_excerpt="<h1>Internal Server Error</h1>",
        error="HTTP 500 is not a success.",
        duration_ms=321,
    )
    newer = make_attempt(webhook, Status.SUCCEEDED, created_at=now, response_status=200)

    response = portal.get(url("webhook", webhook.pk))

    assert rows_of(response) == [str(newer.pk), str(older.pk)]
    page = response.content.decode()
    assert older.event_id in page
    assert "321 ms" in page
    assert "HTTP 500" in page
    assert "&lt;h1&gt;Internal Server Error&lt;/h1&gt;" in page  # escaped, never markup
    body = json.loads(
        re.search(r'<pre class="pt-code pt-body">(.*?)</pre>', page, re.S)
        .group(1)
        .replace("&quot;", '"')
    )
    assert body["id"] == newer.event_id
    assert body["data"] == {"object": {"id": 7, "status": "paid"}}


def test_the_body_is_the_filtered_one_the_attempt_sent(portal, webhook):
    event = make_event(data={"object": {"id": 1, "items": [{"sku": "A"}, {"sku": "B"}]}})
    make_attempt(
        webhook, Status.SUCCEEDED, event=event, object_override={"id": 1, "items": [{"sku": "A"}]}
    )

    page = portal.get(url("webhook", webhook.pk)).content.decode()

    assert "&quot;sku&quot;: &quot;A&quot;" in page
    assert "&quot;sku&quot;: &quot;B&quot;" not in page


def test_an_answer_from_a_private_address_is_not_shown(portal, webhook):
    make_attempt(
        webhook,
        Status.FAILED,
        response_status=500,
        response_excerpt="internal admin panel: db password hunter2",
        answered_privately=True,
    )

    page = portal.get(url("webhook", webhook.pk)).content.decode()

    assert "hunter2" not in page
    assert "Not shown: the answer came from a private address." in page


def test_deliveries_filtered_by_status_and_type_and_found_by_event_id(portal, webhook):
    failed = make_attempt(webhook, Status.FAILED, event_type="order.created")
    succeeded = make_attempt(webhook, Status.SUCCEEDED, event_type="order.created")
    deleted = make_attempt(webhook, Status.FAILED, event_type="order.deleted")

    by_status = portal.get(url("webhook", webhook.pk), {"status": "failed"})
    by_type = portal.get(url("webhook", webhook.pk), {"event_type": "order.created"})
    by_both = portal.get(
        url("webhook", webhook.pk), {"status": "failed", "event_type": "order.deleted"}
    )
    by_id = portal.get(url("webhook", webhook.pk), {"event_id": f" {succeeded.event_id.lower()} "})

    assert set(rows_of(by_status)) == {str(failed.pk), str(deleted.pk)}
    assert set(rows_of(by_type)) == {str(failed.pk), str(succeeded.pk)}
    assert rows_of(by_both) == [str(deleted.pk)]
    assert rows_of(by_id) == [str(succeeded.pk)]
    assert (
        b"No delivery matches."
        in portal.get(url("webhook", webhook.pk), {"event_id": "evt_nothing"}).content
    )


def test_a_bad_filter_says_so_and_filters_nothing_by_it(portal, webhook):
    attempt = make_attempt(webhook, Status.FAILED)

    response = portal.get(url("webhook", webhook.pk), {"status": "exploded"})

    assert rows_of(response) == [str(attempt.pk)]
    assert b"Select a valid choice. exploded is not one of the available choices." in (
        response.content
    )


def test_deliveries_come_a_page_at_a_time(portal, webhook, monkeypatch):
    monkeypatch.setattr(deliveries, "PAGE_SIZE", 2)
    start = timezone.now()
    attempts = [
        make_attempt(webhook, Status.FAILED, created_at=start + timedelta(seconds=number))
        for number in range(5)
    ]
    newest_first = [str(attempt.pk) for attempt in reversed(attempts)]

    first = portal.get(url("webhook", webhook.pk), {"status": "failed"})
    assert rows_of(first) == newest_first[:2]
    older = re.search(
        r'href="\?status=failed&amp;older_than=(\d+)#deliveries"', first.content.decode()
    )
    second = portal.get(url("webhook", webhook.pk), {"status": "failed", "older_than": older[1]})
    assert rows_of(second) == newest_first[2:4]
    third = portal.get(
        url("webhook", webhook.pk), {"status": "failed", "older_than": newest_first[3]}
    )
    assert rows_of(third) == newest_first[4:]
    assert b"Older" not in third.content
    back = portal.get(url("webhook", webhook.pk), {"newer_than": newest_first[4]})
    assert rows_of(back) == newest_first[2:4]
    assert b"Newer" in back.content


def test_a_cursor_of_another_webhook_starts_from_the_newest(portal, webhook):
    mine = make_attempt(webhook, Status.FAILED)
    stranger, _client = make_key("Warehouse")
    theirs = make_attempt(make_webhook(stranger), Status.FAILED)

    response = portal.get(url("webhook", webhook.pk), {"older_than": theirs.pk})

    assert rows_of(response) == [str(mine.pk)]


# --- the buttons ------------------------------------------------------------------------------


def test_redeliver_schedules_the_same_event_again(
    portal, webhook, woken, django_capture_on_commit_callbacks
):
    attempt = make_attempt(webhook, Status.FAILED, response_status=500)
    page = portal.get(url("webhook", webhook.pk)).content.decode()
    assert re.search(r"<button[^>]*>Redeliver</button>", page)

    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(url("redeliver", attempt.pk), follow=True)

    new = DeliveryAttempt.objects.exclude(pk=attempt.pk).get()
    assert (new.event_id, new.number, new.trigger) == (attempt.event_id, 2, "manual")
    assert new.status == Status.SCHEDULED
    assert woken == ["default"]
    assert messages_of(response) == [f"Redelivering {attempt.event_id}: attempt 2 is on its way."]
    assert rows_of(response) == [str(new.pk), str(attempt.pk)]  # searched by its event id


def test_redeliver_says_why_it_cannot(portal, webhook):
    attempt = make_attempt(webhook, Status.FAILED)
    make_attempt(webhook, Status.SCHEDULED, event=attempt.event, number=2)

    response = portal.post(url("redeliver", attempt.pk), follow=True)

    assert messages_of(response) == ["A delivery of this event is already scheduled."]
    assert DeliveryAttempt.objects.count() == 2


def test_an_inactive_webhook_offers_no_redelivery(portal, webhook):
    make_attempt(webhook, Status.FAILED)
    webhook.deactivate("off")

    page = portal.get(url("webhook", webhook.pk)).content.decode()

    assert not re.search(r"<button[^>]*>Redeliver</button>", page)


def test_send_test_event(portal, webhook, woken):
    response = portal.post(url("test", webhook.pk), {"type": "webhook.test"}, follow=True)

    attempt = DeliveryAttempt.objects.get()
    assert attempt.event_type == "webhook.test"
    assert attempt.webhook == webhook
    assert messages_of(response) == ["A test event (webhook.test) is on its way."]


def test_send_test_event_refuses_an_unknown_type_and_an_inactive_webhook(portal, webhook):
    unknown = portal.post(url("test", webhook.pk), {"type": "order.exploded"}, follow=True)
    webhook.deactivate("off")
    inactive = portal.post(url("test", webhook.pk), follow=True)

    assert messages_of(unknown) == ["Unknown event type &#x27;order.exploded&#x27;."]
    assert messages_of(inactive) == ["The webhook is inactive; reactivate it first."]
    assert not Event.objects.exists()


def test_recover_failed_since_sends_what_never_arrived(portal, webhook, woken):
    now = timezone.now()
    lost = make_attempt(webhook, Status.FAILED, created_at=now - timedelta(hours=2))
    make_attempt(webhook, Status.SUCCEEDED, created_at=now - timedelta(hours=2))
    make_attempt(webhook, Status.FAILED, created_at=now - timedelta(days=3))
    since = timezone.localtime(now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")

    response = portal.post(url("recover", webhook.pk), {"since": since}, follow=True)

    (recovered,) = DeliveryAttempt.objects.filter(status=Status.SCHEDULED)
    assert (recovered.event_id, recovered.number) == (lost.event_id, 2)
    assert messages_of(response) == ["Sending 1 failed delivery again."]


def test_recover_wants_a_moment_in_the_past(portal, webhook):
    later = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = portal.post(url("recover", webhook.pk), {"since": later}, follow=True)

    assert messages_of(response) == ["Choose a moment in the past."]


def test_the_pages_speak_german(client, api_key, webhook):
    open_portal(client, api_key)

    page = client.get(url("webhook", webhook.pk), HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert 'lang="de"' in page
    assert "Testereignis senden" in page
    assert "An diesen Webhook wurde noch nichts gesendet." in page
    assert "Fehlgeschlagene erneut senden seit …" in page
    assert "Ihre Webhooks" in page


def test_send_test_event_of_a_catalog_type_sends_its_example(portal, webhook):
    from django_webhooks import catalog

    page = portal.get(url("webhook", webhook.pk)).content.decode()
    assert '<option value="order.status_changed">' in page
    assert '<option value="webhook.test" selected>' in page

    response = portal.post(url("test", webhook.pk), {"type": "order.status_changed"}, follow=True)

    attempt = DeliveryAttempt.objects.get()
    assert attempt.event_type == "order.status_changed"
    assert attempt.event.data == catalog.entry("order.status_changed").example["data"]
    assert messages_of(response) == ["A test event (order.status_changed) is on its way."]
