"""The Settings section: the webhook pages, their actions and the delivery log."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from pytest_django.asserts import assertContains, assertInHTML, assertNotContains

from django_webhooks import events
from django_webhooks.models import ApiKey, DeliveryAttempt, Pacing, Webhook
from tests.factories import make_attempt, make_event

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("woken"),
    pytest.mark.webhook(
        default_key=True,
        url="https://partner.example/hooks",
        events=["order.created", "order.status_changed"],
    ),
]

Status = DeliveryAttempt.Status
WEBHOOKS = "/admin/django_webhooks/webhook/"
LOG = "/admin/django_webhooks/deliveryattempt/"


def text(markup: bytes | str) -> str:
    if isinstance(markup, bytes):
        markup = markup.decode()
    return " ".join(html.unescape(strip_tags(markup)).split())


def breadcrumbs(response) -> str:
    """The breadcrumbs as text, from Django's markup before 6.1 (text) or since (a list)."""
    page = response.content.decode()
    match = re.search(r'<(div|ol) class="breadcrumbs">(.*?)</\1>', page, re.S)
    assert match, "no breadcrumbs"
    if match.group(1) == "ol":
        items = re.findall(r"<li[^>]*>(.*?)</li>", match.group(2), re.S)
        return " \u203a ".join(text(item) for item in items)
    return text(match.group(2))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def change_url(webhook: Webhook) -> str:
    return reverse("admin:django_webhooks_webhook_change", args=[webhook.pk])


# --- the section and the add page -----------------------------------------------------------


def test_the_section_is_called_settings_and_holds_keys_webhooks_and_the_log(admin_client):
    response = admin_client.get("/admin/django_webhooks/")
    page = text(response.content)
    assert "Settings" in breadcrumbs(response)
    for name in ("API keys", "Webhooks", "Delivery log"):
        assert name in page


def test_add_page_reads_like_the_contract(admin_client):
    response = admin_client.get(WEBHOOKS + "add/")

    assert breadcrumbs(response) == "Home › Settings › Webhooks › Add webhook"  # noqa: RUF001
    form = response.context["adminform"].form
    assert [str(form[name].label) for name in ("api_key", "url", "events", "format")] == [
        "API key",
        "Destination URL",
        "Fire when",
        "Format",
    ]
    assert form["is_active"].label == "Active"
    assert form["api_key"].value() == ApiKey.objects.default().pk
    assertInHTML(
        f'<option value="{ApiKey.objects.default().pk}" selected>Default</option>',
        response.content.decode(),
    )
    page = response.content.decode()
    for event_type in events.get_event_types():
        checkbox = (
            rf'<input type="checkbox" name="events" value="{re.escape(event_type.type)}"[^>]*>'
        )
        assert re.search(checkbox + rf"\s*{re.escape(str(event_type.label))}</label>", page)
    assert "Customer data removed" in text(response.content)  # the store's own event
    assert [value for value, _label in form.fields["format"].choices] == ["json", "xml"]
    # A key added from a popup could not show its token: no "+" beside the key.
    assertNotContains(response, 'id="add_id_api_key"')


def test_saving_the_add_page_creates_the_webhook(admin_client):
    response = admin_client.post(
        WEBHOOKS + "add/",
        {
            "api_key": ApiKey.objects.default().pk,
            "url": "https://partner.example/in",
            "events": ["order.deleted", "order.created"],
            "format": "xml",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert webhook.url == "https://partner.example/in"
    assert webhook.events == ["order.created", "order.deleted"]  # the catalog's order
    assert webhook.format == "xml"
    assert webhook.is_active


def test_the_add_page_saves_a_filter_and_explains_a_bad_one(admin_client):
    fields = {
        "api_key": ApiKey.objects.default().pk,
        "url": "https://acme.example/in",
        "events": ["order.created"],
        "format": "json",
        "is_active": "on",
    }
    response = admin_client.post(
        WEBHOOKS + "add/", {**fields, "filter": '{"items": {"sku": {"starts": "AC-"}}}'}
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["filter"]
    assert "unknown operator “starts”" in errors[0]
    assert not Webhook.objects.exists()
    response = admin_client.post(WEBHOOKS + "add/", {**fields, "filter": "{not json"})
    assert "filter" in response.context["adminform"].form.errors
    assert not Webhook.objects.exists()
    response = admin_client.post(
        WEBHOOKS + "add/", {**fields, "filter": '{"items": {"supplier": "acme"}}'}
    )
    assert response.status_code == 302
    assert Webhook.objects.get().filter == {"items": {"supplier": "acme"}}


def test_add_page_refuses_a_url_with_credentials(admin_client):
    response = admin_client.post(
        WEBHOOKS + "add/",
        {
            "api_key": ApiKey.objects.default().pk,
            "url": "https://user:secret@partner.example/in",
            "events": ["order.created"],
            "format": "json",
        },
    )

    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not Webhook.objects.exists()


# --- the webhook list -----------------------------------------------------------------------


def test_list_shows_url_key_events_active_and_the_last_outcome(admin_client, webhook):
    make_attempt(webhook, Status.SUCCEEDED, created_at=timezone.now() - timedelta(minutes=5))
    make_attempt(webhook, Status.FAILED, response_status=503, error="HTTP 503 is not a success.")

    response = admin_client.get(WEBHOOKS)

    row = text(re.search(r"<tr>.*?partner\.example/hooks.*?</tr>", response.content.decode(), re.S)
               .group(0))  # fmt: skip
    assert "Default" in row
    assert "New order, Order status changed" in row
    assert "Failed HTTP 503" in row
    assertContains(response, '<span class="dw-badge dw-badge--failed">Failed</span>', html=True)


def test_list_costs_the_same_queries_for_one_webhook_or_many(admin_client, webhook):
    make_attempt(webhook, Status.SUCCEEDED)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(WEBHOOKS)
    for number in range(5):
        other = Webhook.objects.create(
            api_key=ApiKey.objects.default(),
            url=f"https://p{number}.example/",
            events=["order.created"],
        )
        make_attempt(other, Status.FAILED)
    with CaptureQueriesContext(connection) as six:
        response = admin_client.get(WEBHOOKS)

    assert len(response.context["cl"].result_list) == 6
    assert len(six) == len(one)


# --- the webhook page -----------------------------------------------------------------------


def test_webhook_page_shows_its_recent_attempts(admin_client, webhook):
    make_attempt(
        webhook, Status.SUCCEEDED, duration_ms=87, created_at=timezone.now() - timedelta(minutes=3)
    )
    failed = make_attempt(
        webhook,
        Status.FAILED,
        response_status=500,
        error="HTTP 500 is not a success.",
        duration_ms=1234,
    )
    someone_else = Webhook.objects.create(
        api_key=ApiKey.objects.default(), url="https://other.example/", events=["order.created"]
    )
    make_attempt(someone_else, Status.FAILED, error="not mine")

    response = admin_client.get(change_url(webhook))

    section = re.search(r'id="recent-attempts".*', response.content.decode(), re.S).group(0)
    rows = re.findall(r"<tr>.*?</tr>", section, re.S)[1:]
    assert len(rows) == 2
    newest = text(rows[0])
    assert "Failed" in newest
    assert "500" in newest
    assert "1234 ms" in newest
    assert "HTTP 500 is not a success." in newest
    assert failed.event_id in newest
    assert "Succeeded" in text(rows[1])
    assert "87 ms" in text(rows[1])
    assert "not mine" not in section
    assert 'class="dw-badge dw-badge--succeeded"' in rows[1]


def test_health_summary_counts_the_last_24_hours(admin_client, webhook):
    now = timezone.now()
    for minutes in (10, 70, 130):
        make_attempt(webhook, Status.SUCCEEDED, created_at=now - timedelta(minutes=minutes))
    make_attempt(
        webhook,
        Status.FAILED,
        created_at=now - timedelta(minutes=20),
        response_status=502,
        error="HTTP 502 is not a success.",
    )
    make_attempt(webhook, Status.FAILED, created_at=now - timedelta(days=3), error="long ago")
    make_attempt(webhook, Status.CANCELLED, created_at=now - timedelta(minutes=5))
    make_attempt(webhook, Status.SCHEDULED)

    response = admin_client.get(change_url(webhook))

    health = response.context["health"]
    assert (health.succeeded, health.failed) == (3, 1)
    assert len(health.hours) == 24
    summary = re.search(
        r'<section class="module dw-health".*?</section>', response.content.decode(), re.S
    ).group(0)
    assert "75.0 %" in text(summary)
    assert "3 of 4 attempts succeeded" in text(summary)
    assert "HTTP 502" in text(summary)
    assert "HTTP 502 is not a success." in text(summary)
    svg = re.search(r"<svg class=\"dw-chart\".*?</svg>", summary, re.S).group(0)
    assert svg.count('class="dw-chart-hour"') == 24
    assert svg.count('class="dw-chart-succeeded"') == 3  # three different hours
    assert svg.count('class="dw-chart-failed"') == 1
    assert "1 succeeded, 1 failed" in text(svg)  # the hour with the failure, as a tooltip
    assert "<script" not in summary


def test_the_webhook_page_shows_its_learned_pace_in_flight_and_pause(admin_client, webhook):
    make_attempt(webhook, Status.SENDING)
    make_attempt(webhook, Status.SENDING)
    until = timezone.now() + timedelta(minutes=5)
    Pacing.objects.create(webhook=webhook, limit=9.7, paused_until=until)

    pace = re.search(
        r'<p class="dw-health-pace".*?</p>',
        admin_client.get(change_url(webhook)).content.decode(),
        re.S,
    ).group(0)

    assert "Sending up to 9 at a time (at most 64); 2 in flight now." in text(pace)
    assert "Paused" in text(pace)
    assert "as the receiver asked (Retry-After)" in text(pace)
    Pacing.objects.filter(webhook=webhook).update(
        paused_until=timezone.now() - timedelta(seconds=1)
    )
    again = admin_client.get(change_url(webhook)).content.decode()
    assert "Paused" not in text(
        re.search(r'<p class="dw-health-pace".*?</p>', again, re.S).group(0)
    )


def test_health_summary_without_deliveries(admin_client, webhook):
    response = admin_client.get(change_url(webhook))

    assertContains(response, "No deliveries in the last 24 hours.")
    assert response.context["success_percent"] is None


def test_send_test_event_from_the_webhook_page(admin_client, webhook, woken):
    response = admin_client.post(
        reverse("admin:django_webhooks_webhook_send_test", args=[webhook.pk])
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(webhook)
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.event_type, attempt.trigger, attempt.status) == (
        "webhook.test",
        "test",
        "scheduled",
    )
    assert attempt.webhook == webhook
    page = admin_client.get(change_url(webhook))
    assert "A test event is on its way." in messages_of(page)
    assertContains(page, "Send test event")


def test_send_test_needs_a_post(admin_client, webhook):
    response = admin_client.get(
        reverse("admin:django_webhooks_webhook_send_test", args=[webhook.pk])
    )
    assert response.status_code == 405
    assert not DeliveryAttempt.objects.exists()


def test_send_test_to_an_inactive_webhook_is_refused(admin_client, webhook):
    webhook.deactivate("HTTP 410")

    admin_client.post(reverse("admin:django_webhooks_webhook_send_test", args=[webhook.pk]))

    assert not DeliveryAttempt.objects.exists()
    page = admin_client.get(change_url(webhook))
    assert any("inactive" in message for message in messages_of(page))


def test_reactivate_from_the_webhook_page(admin_client, webhook):
    webhook.deactivate("HTTP 410: the webhook was deactivated.")
    page = admin_client.get(change_url(webhook))
    assertContains(page, "Reactivate")
    assertNotContains(page, "Send test event")
    assertContains(page, "HTTP 410: the webhook was deactivated.")

    response = admin_client.post(
        reverse("admin:django_webhooks_webhook_reactivate", args=[webhook.pk])
    )

    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.is_active
    assert webhook.deactivated_reason == ""


def test_redeliver_an_attempt_from_the_webhook_page(admin_client, webhook):
    failed = make_attempt(webhook, Status.FAILED, response_status=500)
    page = admin_client.get(change_url(webhook))
    redeliver = reverse("admin:django_webhooks_deliveryattempt_redeliver", args=[failed.pk])
    assertContains(page, f'action="{redeliver}"')

    response = admin_client.post(redeliver, {"next": change_url(webhook) + "#recent-attempts"})

    assert response["Location"] == change_url(webhook) + "#recent-attempts"
    new = DeliveryAttempt.objects.exclude(pk=failed.pk).get()
    assert (new.event_id, new.number, new.trigger, new.status) == (
        failed.event_id,
        2,
        "manual",
        "scheduled",
    )


def test_redeliver_ignores_a_next_that_leaves_the_site(admin_client, webhook):
    failed = make_attempt(webhook, Status.FAILED)

    response = admin_client.post(
        reverse("admin:django_webhooks_deliveryattempt_redeliver", args=[failed.pk]),
        {"next": "https://evil.example/"},
    )

    assert response["Location"] == f"{LOG}?q={failed.event_id}"


def test_redeliver_while_one_is_scheduled_is_refused(admin_client, webhook):
    failed = make_attempt(webhook, Status.FAILED)
    make_attempt(webhook, Status.SCHEDULED, event=failed.event, number=2)

    admin_client.post(reverse("admin:django_webhooks_deliveryattempt_redeliver", args=[failed.pk]))

    assert DeliveryAttempt.objects.count() == 2
    page = admin_client.get(LOG)
    assert "A delivery of this event is already scheduled." in messages_of(page)


# --- list actions ---------------------------------------------------------------------------


def run_action(client, action: str, webhooks, **extra):
    return client.post(
        WEBHOOKS,
        {"action": action, "_selected_action": [webhook.pk for webhook in webhooks], **extra},
        follow=True,
    )


def test_activate_action(admin_client, webhook):
    webhook.deactivate("HTTP 404")

    response = run_action(admin_client, "activate", [webhook])

    webhook.refresh_from_db()
    assert webhook.is_active
    assert not webhook.deactivated_reason
    assert "Activated 1 webhook." in messages_of(response)


def test_deactivate_action_cancels_what_is_scheduled(admin_client, webhook):
    scheduled = make_attempt(webhook, Status.SCHEDULED)
    done = make_attempt(webhook, Status.SUCCEEDED)

    response = run_action(admin_client, "deactivate", [webhook])

    webhook.refresh_from_db()
    assert not webhook.is_active
    assert webhook.deactivated_reason == "Deactivated in the admin by admin."
    scheduled.refresh_from_db()
    done.refresh_from_db()
    assert scheduled.status == Status.CANCELLED
    assert done.status == Status.SUCCEEDED
    assert "Deactivated 1 webhook; cancelled 1 scheduled delivery." in messages_of(response)


def test_send_test_action(admin_client, webhook):
    inactive = Webhook.objects.create(
        api_key=ApiKey.objects.default(),
        url="https://off.example/",
        events=["order.created"],
        is_active=False,
    )

    response = run_action(admin_client, "send_test", [webhook, inactive])

    assert list(DeliveryAttempt.objects.values_list("webhook", "event_type")) == [
        (webhook.pk, "webhook.test")
    ]
    assert "A test event is on its way to 1 webhook." in messages_of(response)
    assert "1 inactive webhook was skipped." in messages_of(response)


def test_recover_failed_asks_for_the_time_first(admin_client, webhook):
    make_attempt(webhook, Status.FAILED)

    response = run_action(admin_client, "recover_failed", [webhook])

    assert response.templates[0].name == "django_webhooks/admin/recover_failed.html"
    assertContains(response, 'type="datetime-local"')
    assertContains(response, 'name="since"')
    assert DeliveryAttempt.objects.count() == 1


def test_recover_failed_sends_again_what_never_arrived(admin_client, webhook):
    now = timezone.now()
    failed = make_attempt(webhook, Status.FAILED, created_at=now - timedelta(hours=2))
    retried_then_failed = make_attempt(webhook, Status.FAILED, created_at=now - timedelta(hours=2))
    make_attempt(webhook, Status.FAILED, event=retried_then_failed.event, number=2)
    cancelled = make_attempt(webhook, Status.CANCELLED, created_at=now - timedelta(hours=1))
    delivered = make_attempt(webhook, Status.FAILED, created_at=now - timedelta(hours=1))
    make_attempt(webhook, Status.SUCCEEDED, event=delivered.event, number=2)
    under_way = make_attempt(webhook, Status.FAILED)
    make_attempt(webhook, Status.SCHEDULED, event=under_way.event, number=2)
    too_old = make_attempt(webhook, Status.FAILED, created_at=now - timedelta(days=2))
    before = set(DeliveryAttempt.objects.values_list("pk", flat=True))
    since = timezone.localtime(now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")

    response = run_action(admin_client, "recover_failed", [webhook], confirm="yes", since=since)

    new = DeliveryAttempt.objects.exclude(pk__in=before)
    assert sorted(new.values_list("event_id", "number")) == sorted(
        [(failed.event_id, 2), (retried_then_failed.event_id, 3), (cancelled.event_id, 2)]
    )
    assert set(new.values_list("trigger", "status")) == {("manual", "scheduled")}
    assert too_old.event_id not in new.values_list("event_id", flat=True)
    assert "Sending 3 failed deliveries again." in messages_of(response)


def test_recover_failed_keeps_to_the_chosen_event_types(admin_client, webhook):
    created = make_attempt(webhook, Status.FAILED, event=make_event("order.created"))
    make_attempt(webhook, Status.FAILED, event=make_event("order.status_changed"))
    since = timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    run_action(
        admin_client,
        "recover_failed",
        [webhook],
        confirm="yes",
        since=since,
        event_types=["order.created"],
    )

    new = DeliveryAttempt.objects.filter(number=2)
    assert list(new.values_list("event_id", flat=True)) == [created.event_id]


def test_recover_failed_refuses_a_time_in_the_future(admin_client, webhook):
    make_attempt(webhook, Status.FAILED)
    since = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = run_action(admin_client, "recover_failed", [webhook], confirm="yes", since=since)

    assert response.context["form"].errors["since"] == ["Choose a moment in the past."]
    assert DeliveryAttempt.objects.count() == 1


def test_recover_failed_skips_inactive_webhooks(admin_client, webhook):
    make_attempt(webhook, Status.FAILED)
    webhook.deactivate("HTTP 410")
    since = timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    response = run_action(admin_client, "recover_failed", [webhook], confirm="yes", since=since)

    assert DeliveryAttempt.objects.count() == 1
    assert "1 inactive webhook was skipped: reactivate it first." in messages_of(response)


# --- the delivery log -----------------------------------------------------------------------


def listed(response) -> list[DeliveryAttempt]:
    return list(response.context["cl"].result_list)


def test_log_filters(admin_client, webhook):
    other_key, _token = ApiKey.objects.create_key(name="Accounting")
    other = Webhook.objects.create(
        api_key=other_key, url="https://acc.example/", events=["order.deleted"]
    )
    ok = make_attempt(webhook, Status.SUCCEEDED, event=make_event("order.created"))
    failed = make_attempt(webhook, Status.FAILED, event=make_event("order.status_changed"))
    theirs = make_attempt(other, Status.FAILED, event=make_event("order.deleted"))
    make_attempt(webhook, Status.FAILED, created_at=timezone.now() - timedelta(days=40))

    def filtered(query: str) -> set[int]:
        return {attempt.pk for attempt in listed(admin_client.get(f"{LOG}?{query}"))}

    assert filtered("status__exact=succeeded") == {ok.pk}
    assert filtered("event_type=order.status_changed") == {failed.pk}
    assert filtered(f"webhook__id__exact={other.pk}") == {theirs.pk}
    assert filtered(f"webhook__api_key__id__exact={other_key.pk}") == {theirs.pk}
    page = admin_client.get(LOG).content.decode()
    past_week = re.search(r'<a href="\?([^"]*created_at__gte[^"]*)">Past 7 days</a>', page)
    assert filtered(html.unescape(past_week.group(1))) == {ok.pk, failed.pk, theirs.pk}
    page = text(page)
    for title in ("By status", "By event type", "By webhook", "By API key", "By created"):
        assert title in page


def test_log_search_by_event_id(admin_client, webhook):
    wanted = make_attempt(webhook, Status.FAILED)
    make_attempt(webhook, Status.FAILED)

    assert listed(admin_client.get(LOG, {"q": wanted.event_id})) == [wanted]
    assert listed(admin_client.get(LOG, {"q": wanted.event_id.lower()})) == [wanted]
    assert listed(admin_client.get(LOG, {"q": "evt_nothing"})) == []


def test_log_detail_shows_headers_body_and_answer(admin_client, webhook):
    event = make_event(
        "order.status_changed",
        data={"object": {"id": 1042, "status": "paid"}, "previous": {"status": "pending"}},
    )
    attempt = make_attempt(
        webhook,
        Status.FAILED,
        event=event,
        response_status=500,
        response_excerpt="<h1>Server Error</h1>",
        error="HTTP 500 is not a success.",
        request_headers={
            "Content-Type": "application/json; charset=utf-8",
            "webhook-id": event.pk,
            "webhook-signature": "v1,AbCdEfGh…",
        },
    )

    response = admin_client.get(
        reverse("admin:django_webhooks_deliveryattempt_change", args=[attempt.pk])
    )

    page = response.content.decode()
    assert "v1,AbCdEfGh…" in page
    assert "&lt;h1&gt;Server Error&lt;/h1&gt;" in page  # escaped, never rendered
    body = re.search(r"field-body_display.*?<pre[^>]*>(.*?)</pre>", page, re.S).group(1)
    document = json.loads(html.unescape(body))
    assert document["id"] == event.pk
    assert document["type"] == "order.status_changed"
    assert document["data"] == {
        "object": {"id": 1042, "status": "paid"},
        "previous": {"status": "pending"},
    }
    assertContains(response, "Redeliver")
    assertNotContains(response, 'name="_save"')  # read-only


def test_log_detail_renders_xml_for_an_xml_delivery(admin_client, webhook):
    webhook.format = "xml"
    webhook.save()
    attempt = make_attempt(webhook, Status.SCHEDULED)

    response = admin_client.get(
        reverse("admin:django_webhooks_deliveryattempt_change", args=[attempt.pk])
    )

    body = html.unescape(
        re.search(
            r"field-body_display.*?<pre[^>]*>(.*?)</pre>", response.content.decode(), re.S
        ).group(1)
    )
    assert body.startswith("<event>")
    assert f"<id>{attempt.event_id}</id>" in body
    assertContains(response, "Not sent yet.")
    assertNotContains(response, 'class="dw-tool">Redeliver')  # not finished: nothing to redeliver


def test_log_is_read_only(admin_client, webhook):
    attempt = make_attempt(webhook, Status.FAILED)
    change = reverse("admin:django_webhooks_deliveryattempt_change", args=[attempt.pk])

    assert admin_client.get(LOG + "add/").status_code == 403
    assert admin_client.post(change, {"status": "succeeded"}).status_code == 403
    assert admin_client.post(change.replace("change", "delete"), {"post": "yes"}).status_code == 403
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED


def test_redeliver_from_the_log_detail_lands_on_the_event(admin_client, webhook):
    attempt = make_attempt(webhook, Status.FAILED)

    response = admin_client.post(
        reverse("admin:django_webhooks_deliveryattempt_redeliver", args=[attempt.pk]), follow=True
    )

    assert [item.number for item in listed(response)] == [2, 1]
    assert "Redelivering: attempt 2 is on its way." in messages_of(response)


def test_redeliver_action_in_the_log(admin_client, webhook):
    first = make_attempt(webhook, Status.FAILED)
    second = make_attempt(webhook, Status.FAILED, event=first.event, number=2)
    other = make_attempt(webhook, Status.SUCCEEDED)
    orphan = make_attempt(None, Status.FAILED)

    response = admin_client.post(
        LOG,
        {
            "action": "redeliver_selected",
            "_selected_action": [first.pk, second.pk, other.pk, orphan.pk],
        },
        follow=True,
    )

    new = DeliveryAttempt.objects.filter(trigger="manual")
    assert sorted(new.values_list("event_id", "number")) == sorted(
        [(first.event_id, 3), (other.event_id, 2)]
    )
    assert "Redelivering 2 events." in messages_of(response)
    assert f"{orphan.event_id}: The webhook was deleted." in messages_of(response)


# --- translations ---------------------------------------------------------------------------


def test_the_admin_speaks_german(admin_client, webhook):
    response = admin_client.get(change_url(webhook), headers={"accept-language": "de"})

    assertContains(response, "Testereignis senden")
    assertContains(response, "Zustand der letzten 24 Stunden")
    assert "Einstellungen" in breadcrumbs(response)
