"""The operators' commands: create a key, recover failed deliveries, prune the log, stats."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as StandardWebhook

from django_webhooks import signing
from django_webhooks.models import ApiKey, DeliveryAttempt, Event, Pacing, Webhook
from tests.factories import make_attempt, make_event

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("woken"),
    pytest.mark.webhook(
        default_key=True, url="https://partner.example/in", events=["order.created"]
    ),
]

Status = DeliveryAttempt.Status


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# --- webhooks_create_key --------------------------------------------------------------------


def test_create_key_prints_the_token_and_signing_secret_once():
    out, _err = run("webhooks_create_key", "Warehouse")

    api_key = ApiKey.objects.get(name="Warehouse")
    token = out.split("Token", 1)[1].split("\n")[1].strip()
    secret = out.split("Signing secret", 1)[1].split("\n")[1].strip()
    assert ApiKey.objects.get_from_token(token) == api_key
    assert secret == api_key.signing_secret
    assert secret.startswith(signing.SECRET_PREFIX)
    # The secret is a working Standard Webhooks secret.
    body = b'{"id":"evt_1"}'
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(int(timezone.now().timestamp())),
        "webhook-signature": signing.sign(secret, "evt_1", int(timezone.now().timestamp()), body),
    }
    StandardWebhook(secret).verify(body, headers)


def test_create_key_as_json_with_an_expiry():
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)

    out, _err = run("webhooks_create_key", "Partner", "--json", "--expires", expires.isoformat())

    printed = json.loads(out)
    api_key = ApiKey.objects.get(pk=printed["id"])
    assert ApiKey.objects.get_from_token(printed["token"]) == api_key
    assert printed["signing_secret"] == api_key.signing_secret
    assert api_key.expiry_date == expires


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["  "], "Give a name"),
        (["x" * 51], "Give a name"),
        (["Partner", "--expires", "2001-01-01T00:00"], "must be in the future"),
        (["Partner", "--expires", "soon"], "not an ISO 8601"),
    ],
)
def test_create_key_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        run("webhooks_create_key", *args)
    assert not ApiKey.objects.exclude(name="Default").exists()


# --- webhooks_recover -----------------------------------------------------------------------


@pytest.fixture
def outage(webhook):
    """Two hours ago a receiver was down: some events failed, then it came back."""
    now = timezone.now()
    rows = {
        "failed": make_attempt(webhook, Status.FAILED, created_at=now - timedelta(hours=2)),
        "cancelled": make_attempt(webhook, Status.CANCELLED, created_at=now - timedelta(hours=1)),
        "delivered": make_attempt(webhook, Status.SUCCEEDED, created_at=now - timedelta(hours=1)),
        "old": make_attempt(webhook, Status.FAILED, created_at=now - timedelta(days=3)),
        "deleted": make_event(created_at=now - timedelta(hours=1)),
        "status": make_attempt(
            webhook,
            Status.FAILED,
            event=make_event("order.status_changed", created_at=now - timedelta(hours=1)),
        ),
    }
    gone = Webhook.objects.create(
        api_key=ApiKey.objects.default(), url="https://gone.example/", events=["order.created"]
    )
    rows["other_webhook"] = make_attempt(gone, Status.FAILED)
    return rows


def new_attempts():
    return DeliveryAttempt.objects.filter(trigger=DeliveryAttempt.Trigger.MANUAL)


def test_recover_dry_run_counts_and_sends_nothing(outage, webhook):
    out, _err = run("webhooks_recover", "--since", "3h", "--dry-run")

    assert "4 failed deliveries since" in out
    assert f"webhook {webhook.pk} https://partner.example/in: 3" in out
    assert "Dry run: nothing was scheduled." in out
    assert not new_attempts().exists()


def test_recover_schedules_one_attempt_per_failed_delivery(
    outage, webhook, woken, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        out, err = run("webhooks_recover", "--since", "3h", "--webhook", str(webhook.pk))

    assert sorted(new_attempts().values_list("event_id", "number", "status", "url")) == sorted(
        (outage[name].event_id, 2, "scheduled", webhook.url)
        for name in ("failed", "cancelled", "status")
    )
    assert "Scheduled 3 deliveries again." in out
    assert "[##############################] 3/3" in err  # the progress bar, on stderr
    assert woken == ["default"]  # the cluster was woken, once per batch


def test_recover_works_in_batches_with_a_progress_bar(
    outage, webhook, woken, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _out, err = run(
            "webhooks_recover", "--since", "3h", "--webhook", str(webhook.pk), "--batch-size", "2"
        )

    assert "\r[####################----------] 2/3" in err
    assert "\r[##############################] 3/3" in err
    assert len(woken) == 2
    assert new_attempts().count() == 3


def test_recover_filters_by_event_type_and_since(outage, webhook):
    since = (timezone.localtime() - timedelta(hours=1, minutes=30)).strftime("%Y-%m-%dT%H:%M")

    run(
        "webhooks_recover",
        "--since",
        since,
        "--event-type",
        "order.created",
        "--webhook",
        str(webhook.pk),
    )

    assert list(new_attempts().values_list("event_id", flat=True)) == [outage["cancelled"].event_id]


def test_recover_twice_does_not_send_twice(outage, webhook):
    run("webhooks_recover", "--since", "3h", "--webhook", str(webhook.pk))
    out, _err = run("webhooks_recover", "--since", "3h", "--webhook", str(webhook.pk))

    assert "0 failed deliveries" in out
    assert new_attempts().count() == 3


def test_recover_keeps_the_attempts_own_payload(webhook):
    failed = make_attempt(webhook, Status.FAILED, object_override={"id": 7, "filtered": True})

    run("webhooks_recover", "--since", "1h")

    assert new_attempts().get().object_override == {"id": 7, "filtered": True}
    assert new_attempts().get().event_id == failed.event_id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "neither an ISO 8601"),
        (["--since", "2026-02-30T09:00"], "neither an ISO 8601"),  # well-formed, no such day
        (["--since", "2h", "--event-type", "order.exploded"], "Unknown event type"),
        (["--since", "2h", "--webhook", "999"], "No webhook with id 999"),
        (["--since", "2999-01-01T00:00"], "must be in the past"),
    ],
)
def test_recover_refuses_bad_input(webhook, args, message):
    with pytest.raises(CommandError, match=message):
        run("webhooks_recover", *args)


def test_recover_refuses_an_inactive_webhook(outage, webhook):
    webhook.deactivate("HTTP 410")

    with pytest.raises(CommandError, match="inactive: reactivate"):
        run("webhooks_recover", "--since", "3h", "--webhook", str(webhook.pk))
    assert not new_attempts().exists()


# --- webhooks_prune -------------------------------------------------------------------------


@pytest.fixture
def history(webhook):
    now = timezone.now()
    old = now - timedelta(days=40)
    shared = make_event(created_at=old)
    return {
        "old_succeeded": make_attempt(webhook, Status.SUCCEEDED, created_at=old),
        "old_failed": make_attempt(webhook, Status.FAILED, created_at=old),
        "old_cancelled": make_attempt(webhook, Status.CANCELLED, created_at=old),
        "old_scheduled": make_attempt(webhook, Status.SCHEDULED, created_at=old),
        "old_sending": make_attempt(webhook, Status.SENDING, created_at=old),
        "old_of_shared": make_attempt(webhook, Status.FAILED, event=shared, created_at=old),
        "new_of_shared": make_attempt(webhook, Status.SUCCEEDED, event=shared, number=2),
        "recent": make_attempt(webhook, Status.FAILED, created_at=now - timedelta(days=2)),
        "undispatched": make_event(created_at=old, dispatched=False),
        "orphan": make_event(created_at=old),
    }


def test_prune_deletes_finished_attempts_older_than_the_retention(history):
    out, _err = run("webhooks_prune")

    remaining = set(DeliveryAttempt.objects.values_list("pk", flat=True))
    assert remaining == {
        history[name].pk for name in ("old_scheduled", "old_sending", "new_of_shared", "recent")
    }
    events_left = set(Event.objects.values_list("pk", flat=True))
    for gone in ("old_succeeded", "old_failed", "old_cancelled"):
        assert history[gone].event_id not in events_left
    assert history["orphan"].pk not in events_left
    assert history["undispatched"].pk in events_left  # the sweeper still owes it a dispatch
    assert history["new_of_shared"].event_id in events_left
    assert history["old_scheduled"].event_id in events_left
    assert "Deleted 4 delivery attempts and 4 events older than 30 days." in out


def test_prune_reads_retention_days_from_the_settings(history, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETENTION_DAYS": 1}

    out, _err = run("webhooks_prune")

    assert history["recent"].pk not in set(DeliveryAttempt.objects.values_list("pk", flat=True))
    assert "older than 1 days" in out


def test_prune_days_option_and_dry_run(history):
    out, _err = run("webhooks_prune", "--days", "60", "--dry-run")

    assert "Dry run: 0 delivery attempts are older than 60 days" in out
    out, _err = run("webhooks_prune", "--days", "35", "--dry-run")
    assert "Dry run: 4 delivery attempts are older than 35 days; 1 events have no attempts" in out
    assert DeliveryAttempt.objects.count() == 8


def test_prune_deletes_in_short_batches(webhook):
    old = timezone.now() - timedelta(days=40)
    for _ in range(5):
        make_attempt(webhook, Status.SUCCEEDED, created_at=old)

    with CaptureQueriesContext(connection) as queries:
        run("webhooks_prune", "--batch-size", "2")

    # Inside the test's own transaction each `atomic()` is a savepoint: note which one
    # every DELETE of the log ran in.
    transaction_of_delete, current = [], None
    for query in (q["sql"] for q in queries):
        if query.startswith("SAVEPOINT"):
            current = query.split()[1]
        elif query.startswith(("RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            current = None
        elif (
            query.startswith('DELETE FROM "django_webhooks_deliveryattempt"')
            and '"event_id" IN' not in query  # not the (empty) cascade when events go
        ):
            transaction_of_delete.append(current)
    assert len(transaction_of_delete) == 3  # 2 + 2 + 1 rows
    assert None not in transaction_of_delete
    assert len(set(transaction_of_delete)) == 3  # each batch in a transaction of its own
    assert not DeliveryAttempt.objects.exists()
    assert not Event.objects.exists()


def test_prune_refuses_nonsense():
    with pytest.raises(CommandError, match="--days must be at least 1"):
        run("webhooks_prune", "--days", "0")
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        run("webhooks_prune", "--batch-size", "0")


# --- webhooks_stats -------------------------------------------------------------------------


def test_stats_per_webhook(webhook):
    now = timezone.now()
    for duration in (100, 300):
        make_attempt(
            webhook, Status.SUCCEEDED, duration_ms=duration, created_at=now - timedelta(hours=1)
        )
    make_attempt(webhook, Status.FAILED, duration_ms=200, created_at=now - timedelta(hours=2))
    make_attempt(webhook, Status.FAILED, created_at=now - timedelta(days=2))  # outside the window
    make_attempt(webhook, Status.SCHEDULED)
    make_attempt(webhook, Status.SENDING)
    paused_until = now + timedelta(minutes=2)
    Pacing.objects.create(webhook=webhook, limit=12.6, paused_until=paused_until)
    quiet = Webhook.objects.create(
        api_key=ApiKey.objects.default(), url="https://quiet.example/", events=["order.created"]
    )

    out, _err = run("webhooks_stats")

    lines = out.splitlines()
    assert lines[0] == "Deliveries over the last 24 hours:"
    assert lines[1].split() == [
        "ID",
        "ACTIVE",
        "OK",
        "FAILED",
        "RATE",
        "AVG",
        "MS",
        "MAX",
        "MS",
        "WAITING",
        "LIMIT",
        "IN",
        "FLIGHT",
        "PAUSED",
        "UNTIL",
        "URL",
    ]
    assert lines[2].split() == [
        str(webhook.pk),
        "yes",
        "2",
        "1",
        "66.7%",
        "200",
        "300",
        "1",
        "12",
        "1",
        paused_until.isoformat(timespec="seconds"),
        webhook.url,
    ]
    assert lines[3].split() == [
        str(quiet.pk), "yes", "0", "0", "—", "—", "—", "0", "4", "0", "—", quiet.url
    ]  # fmt: skip
    assert lines[4].startswith("Due now: 1 (oldest waiting")


def test_stats_as_json_for_one_webhook(webhook):
    make_attempt(webhook, Status.SUCCEEDED)
    Webhook.objects.create(
        api_key=ApiKey.objects.default(), url="https://other.example/", events=["order.created"]
    )

    out, _err = run("webhooks_stats", "--json", "--webhook", str(webhook.pk), "--hours", "1")

    report = json.loads(out)
    assert report["hours"] == 1
    (row,) = report["webhooks"]
    assert row["id"] == webhook.pk
    assert (row["succeeded"], row["failed"], row["success_rate"]) == (1, 0, 1.0)
    assert row["api_key"] == "Default"
    assert (row["limit"], row["in_flight"], row["paused_until"]) == (4, 0, None)
    assert report["backlog"] == {"due": 0, "oldest_due_seconds": None, "undispatched": 0}
