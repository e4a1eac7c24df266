"""GET /metrics: who may scrape, what it says, and what a scrape costs (CONTRACT §11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from django_webhooks.models import AttemptTally, DeliveryAttempt, Event, Pacing, Webhook
from django_webhooks.observability import tally
from django_webhooks.worker import engine
from example_project.shop.models import Order
from tests.metrics_support import TOKEN, scrape, value, with_token

URL = "https://erp.example.com/hooks"
FAILING = "https://old-partner.example/in"
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.webhook(url=URL, events=["order.created", "order.status_changed"]),
]


def test_without_a_token_setting_the_url_answers_404(db):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    ["", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer "],
)
def test_a_wrong_or_missing_token_is_refused(db, authorization):
    with with_token():
        headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
        response = Client().get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"django_webhooks" not in response.content


def test_the_token_opens_the_text_format(db):
    with with_token():
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}")
        refused = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    assert b"# TYPE django_webhooks_attempts_total counter" in response.content
    assert refused.status_code == 405


def test_counters_histogram_and_backlog_follow_the_outcomes(webhook, api_key, http_mock, clock):
    Webhook.objects.create(api_key=api_key, url=FAILING, events=["order.created"])
    http_mock.post(URL, status=200)
    http_mock.post(FAILING, status=500)
    with with_token():
        before = scrape()
        order = Order.objects.create()
        order.status = "paid"
        order.save()
        assert engine.run().sent == 3
        after = scrape()
        clock.advance(61)  # the failed one's retry is due
        due = scrape()

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("django_webhooks_attempts_total", status="succeeded", event_type="order.created")
    assert (
        grew("django_webhooks_attempts_total", status="succeeded", event_type="order.created") == 1
    )
    assert (
        grew(
            "django_webhooks_attempts_total", status="succeeded", event_type="order.status_changed"
        )
        == 1
    )
    assert grew("django_webhooks_attempts_total", status="failed", event_type="order.created") == 1
    histogram = "django_webhooks_attempt_duration_seconds"
    assert grew(f"{histogram}_count", status="succeeded") == 2
    assert grew(f"{histogram}_count", status="failed") == 1
    assert value(after, f"{histogram}_bucket", status="succeeded", le="+Inf") == 2
    bounds = [format(ms / 1000, "g") for ms in tally.BUCKETS_MS]
    cumulative = [value(after, f"{histogram}_bucket", status="succeeded", le=le) for le in bounds]
    assert cumulative == sorted(cumulative)  # cumulative buckets
    assert value(after, "django_webhooks_due_attempts") == 0  # the retry waits 60 s
    assert value(due, "django_webhooks_due_attempts") == 1
    assert value(due, "django_webhooks_oldest_due_attempt_age_seconds") == pytest.approx(1, abs=0.1)
    assert value(after, "django_webhooks_webhooks", state="active") == 2
    assert value(after, "django_webhooks_undispatched_events") == 0


def test_a_switched_off_webhook_is_counted(webhook, http_mock):
    http_mock.post(URL, status=410)
    with with_token():
        Order.objects.create()
        engine.run()
        samples = scrape()
    assert value(samples, "django_webhooks_webhooks_switched_off_total", verdict="deactivate") == 1
    assert value(samples, "django_webhooks_webhooks_switched_off_total", verdict="unsubscribe") == 0
    assert value(samples, "django_webhooks_webhooks", state="inactive") == 1
    assert value(samples, "django_webhooks_webhooks", state="active") == 0


def test_undispatched_events_and_their_age(webhook, clock):
    with with_token():
        Order.objects.create()
        clock.advance(5)
        samples = scrape()
    assert value(samples, "django_webhooks_undispatched_events") == 1
    assert value(samples, "django_webhooks_oldest_undispatched_event_age_seconds") == 5


def test_counters_do_not_drop_when_the_log_is_pruned(webhook, http_mock):
    http_mock.post(URL, status=200)
    with with_token():
        Order.objects.create()
        engine.run()
        DeliveryAttempt.objects.all().delete()
        samples = scrape()
    assert (
        value(
            samples,
            "django_webhooks_attempts_total",
            status="succeeded",
            event_type="order.created",
        )
        == 1
    )


def test_the_tally_holds_a_row_per_key_not_per_attempt(db):
    outcomes = [tally.Counted("order.created", "succeeded", 12)] * 500 + [
        tally.Counted("order.created", "failed", 7000),
        tally.Counted("order.created", "failed", None),
    ]
    tally.count(outcomes[:250], "default")
    tally.count(outcomes[250:], "default")
    rows = {
        (row.verdict, row.le_ms): (row.count, row.duration_ms_sum)
        for row in AttemptTally.objects.all()
    }
    assert rows == {
        ("succeeded", 25): (500, 6000),
        ("failed", 10000): (1, 7000),
        ("failed", 25): (1, 0),
    }


def test_the_engines_pace_per_webhook_and_the_paused_ones(webhook, api_key):
    other = Webhook.objects.create(api_key=api_key, url=f"{URL}/2", events=["order.created"])
    Pacing.objects.create(webhook=webhook, limit=7.8)
    Pacing.objects.create(
        webhook=other, limit=2.0, paused_until=timezone.now() + timedelta(minutes=1)
    )
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(
                webhook=webhook,
                event=Event.objects.create(type="order.created"),
                url=URL,
                event_type="order.created",
                number=1,
                status=DeliveryAttempt.Status.SENDING,
                scheduled_for=timezone.now(),
            )
            for _ in range(3)
        ]
    )
    with with_token():
        samples = scrape()
    assert value(samples, "django_webhooks_webhook_concurrency_limit", webhook=str(webhook.pk)) == 7
    assert value(samples, "django_webhooks_webhook_concurrency_limit", webhook=str(other.pk)) == 2
    assert value(samples, "django_webhooks_webhook_in_flight", webhook=str(webhook.pk)) == 3
    assert value(samples, "django_webhooks_webhooks_paused") == 1


def test_a_scrape_costs_the_same_queries_whatever_the_log_holds(webhook, api_key, http_mock):
    def queries() -> list[str]:
        with with_token(), CaptureQueriesContext(connection) as captured:
            scrape()
        return [query["sql"] for query in captured.captured_queries]

    empty = queries()
    http_mock.post(URL, status=200)
    for n in range(5):
        Webhook.objects.create(api_key=api_key, url=f"{URL}/{n}", events=["order.created"])
    for _ in range(20):
        Order.objects.create()
    engine.run()
    # 120 first attempts and the retries of the failed ones (how many: the pace decides; a
    # receiver that refuses even one at a time pauses its webhook).
    assert DeliveryAttempt.objects.count() > 120
    assert DeliveryAttempt.objects.filter(number=2).exists()
    busy = queries()
    assert len(busy) == len(empty) == 7
    tables = {
        "django_webhooks_deliveryattempt": 3,
        "django_webhooks_event": 1,
        "django_webhooks_pacing": 1,
    }
    for table, expected in tables.items():
        assert sum(f'"{table}"' in sql for sql in busy) == expected
    # Attempts are read only through the partial indexes' conditions, never as a whole.
    for sql in busy:
        if '"django_webhooks_deliveryattempt"' in sql:
            assert "scheduled" in sql or "sending" in sql, sql


@pytest.mark.parametrize(
    ("webhooks", "check_id"),
    [
        ({"METRICS_TOKEN": 1234567890123456789}, "django_webhooks.E060"),
        ({"METRICS_TOKEN": "short"}, "django_webhooks.E061"),
        ({"TRACEPARENT_HEADER": "yes"}, "django_webhooks.E062"),
    ],
)
def test_checks_refuse_bad_observability_settings(db, webhooks, check_id):
    with override_settings(WEBHOOKS={"ORDER_MODEL": "shop.Order", **webhooks}):
        messages = [message for message in run_checks() if message.id == check_id]
    assert len(messages) == 1
    assert "short" not in messages[0].msg  # the token itself is never shown


def test_checks_pass_a_good_token(db):
    with with_token(TRACEPARENT_HEADER=False):
        ids = {message.id for message in run_checks()}
    assert not ids & {"django_webhooks.E060", "django_webhooks.E061", "django_webhooks.E062"}


def test_old_event_counts_need_no_attempt_rows(webhook, http_mock, clock):
    """The counters come from the tally, not from a scan: a week-old delivery still counts."""
    http_mock.post(URL, status=200)
    Order.objects.create()
    engine.run()
    clock.advance(timedelta(days=7).total_seconds())
    with with_token():
        samples = scrape()
    assert value(samples, "django_webhooks_attempt_duration_seconds_count", status="succeeded") == 1


def test_other_databases_count_without_an_upsert(db, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "other")
    tally.count([tally.Counted("order.created", "succeeded", 30)], "default")
    tally.count([tally.Counted("order.created", "succeeded", 40)] * 2, "default")
    (row,) = AttemptTally.objects.all()
    assert (row.le_ms, row.count, row.duration_ms_sum) == (50, 3, 110)
