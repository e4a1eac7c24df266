"""The delivery log, test deliveries and redelivery, each scoped to the calling key."""

from base64 import b64encode
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from django_webhooks.models import DeliveryAttempt, Event, Webhook
from django_webhooks.worker import engine
from tests.api_support import url
from tests.factories import make_attempt, make_key, make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]

Status = DeliveryAttempt.Status
ATTEMPT_FIELDS = {
    "id",
    "webhook",
    "url",
    "event_id",
    "event_type",
    "number",
    "trigger",
    "status",
    "response_status",
    "response_excerpt",
    "error",
    "scheduled_for",
    "finished_at",
    "duration_ms",
    "created_at",
}


# --- the log --------------------------------------------------------------------------------


def test_the_log_lists_the_webhooks_attempts_newest_first(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    now = timezone.now()
    oldest = make_attempt(webhook, Status.FAILED, created_at=now - timedelta(minutes=2))
    newest = make_attempt(webhook, Status.FAILED, created_at=now)
    middle = make_attempt(webhook, Status.FAILED, created_at=now - timedelta(minutes=1))
    make_attempt(make_webhook(key), Status.FAILED)  # another webhook of the same key

    response = client.get(url("webhook-attempts", webhook.pk))

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [
        newest.pk,
        middle.pk,
        oldest.pk,
    ]


def test_a_log_entry_carries_the_attempt_fields_and_no_secret(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    attempt = make_attempt(webhook, Status.FAILED, response_status=500)
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(
        duration_ms=12,
        response_excerpt="nope",
        request_headers={"webhook-signature": "v1,abcdefgh…"},
    )

    (entry,) = client.get(url("webhook-attempts", webhook.pk)).json()["results"]

    assert set(entry) == ATTEMPT_FIELDS
    assert entry["id"] == attempt.pk
    assert entry["webhook"] == webhook.pk
    assert entry["event_id"] == attempt.event_id
    assert (entry["status"], entry["response_status"], entry["number"]) == ("failed", 500, 1)
    assert (entry["duration_ms"], entry["response_excerpt"]) == (12, "nope")
    assert entry["trigger"] == "event"
    assert "v1," not in str(entry)
    assert key.signing_secret not in str(entry)


def test_the_log_is_paginated(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    start = timezone.now() - timedelta(hours=1)
    made = [
        make_attempt(webhook, Status.FAILED, created_at=start + timedelta(seconds=n))
        for n in range(55)
    ]

    first = client.get(url("webhook-attempts", webhook.pk)).json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 50
    assert first["previous"] is None
    assert len(second["results"]) == 5
    assert second["next"] is None
    seen = [item["id"] for item in first["results"] + second["results"]]
    assert seen == [attempt.pk for attempt in reversed(made)]


def test_the_log_pages_stay_right_when_new_attempts_arrive(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    start = timezone.now() - timedelta(hours=1)
    made = [
        make_attempt(webhook, Status.FAILED, created_at=start + timedelta(seconds=n))
        for n in range(60)
    ]
    first = client.get(url("webhook-attempts", webhook.pk)).json()
    make_attempt(webhook, Status.FAILED)

    second = client.get(first["next"]).json()

    assert [item["id"] for item in second["results"]] == [a.pk for a in reversed(made[:10])]


def test_the_log_filters_by_status_and_event_type(accounting):
    key, client = accounting
    webhook = make_webhook(key, events=["order.created", "order.deleted"])
    failed_created = make_attempt(webhook, Status.FAILED, event_type="order.created")
    make_attempt(webhook, Status.SUCCEEDED, event_type="order.created")
    failed_deleted = make_attempt(webhook, Status.FAILED, event_type="order.deleted")
    endpoint = url("webhook-attempts", webhook.pk)

    by_status = client.get(endpoint, {"status": "failed"}).json()["results"]
    by_type = client.get(endpoint, {"event_type": "order.deleted"}).json()["results"]
    by_both = client.get(endpoint, {"status": "failed", "event_type": "order.created"})

    assert {item["id"] for item in by_status} == {failed_created.pk, failed_deleted.pk}
    assert [item["id"] for item in by_type] == [failed_deleted.pk]
    assert [item["id"] for item in by_both.json()["results"]] == [failed_created.pk]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"status": "lost"}, {"status": ['"lost" is not a valid choice.']}),
        ({"status": ""}, {"status": ['"" is not a valid choice.']}),
        ({"event_type": ""}, {"event_type": ["This field may not be blank."]}),
    ],
)
def test_invalid_filters_answer_400(accounting, query, errors):
    key, client = accounting
    webhook = make_webhook(key)

    response = client.get(url("webhook-attempts", webhook.pk), query)

    assert response.status_code == 400
    assert response.json() == errors


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        b64encode(b"p=not-a-date").decode(),
        b64encode(b"p=2026-13-45 00:00:00+00:00").decode(),
        b64encode(b"p=2026-01-01 00:00:00").decode(),  # naive
        b64encode(b"o=abc&p=2026-01-01 00:00:00+00:00").decode(),
    ],
)
def test_an_invalid_or_hand_made_cursor_answers_404(accounting, cursor):
    key, client = accounting
    webhook = make_webhook(key)
    make_attempt(webhook, Status.FAILED)

    response = client.get(url("webhook-attempts", webhook.pk), {"cursor": cursor})

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_a_well_formed_hand_made_cursor_works(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    older = make_attempt(webhook, Status.FAILED, created_at=timezone.now() - timedelta(hours=2))
    make_attempt(webhook, Status.FAILED)
    cursor = urlencode({"p": str(timezone.now() - timedelta(hours=1))})

    response = client.get(
        url("webhook-attempts", webhook.pk), {"cursor": b64encode(cursor.encode()).decode()}
    )

    assert [item["id"] for item in response.json()["results"]] == [older.pk]


def test_another_keys_log_answers_404(accounting, warehouse):
    webhook = make_webhook(accounting[0])
    make_attempt(webhook, Status.FAILED)

    response = warehouse[1].get(url("webhook-attempts", webhook.pk))

    assert response.status_code == 404
    assert "results" not in response.json()


# --- test deliveries ------------------------------------------------------------------------


def test_test_schedules_a_webhook_test_delivery(accounting):
    key, client = accounting
    webhook = make_webhook(key)

    response = client.post(url("webhook-test", webhook.pk))

    assert response.status_code == 202
    attempt = DeliveryAttempt.objects.get()
    assert response.json()["id"] == attempt.pk
    assert set(response.json()) == ATTEMPT_FIELDS
    assert (attempt.webhook, attempt.event_type, attempt.trigger, attempt.status) == (
        webhook,
        "webhook.test",
        "test",
        "scheduled",
    )


def test_test_on_an_inactive_webhook_answers_409_and_schedules_nothing(accounting):
    key, client = accounting
    webhook = make_webhook(key, is_active=False)

    response = client.post(url("webhook-test", webhook.pk))

    assert response.status_code == 409
    assert response.json() == {"detail": "The webhook is inactive; reactivate it first."}
    assert not DeliveryAttempt.objects.exists()
    assert not Event.objects.exists()


def test_test_on_another_keys_webhook_answers_404_and_sends_nothing(accounting, warehouse):
    webhook = make_webhook(accounting[0])

    response = warehouse[1].post(url("webhook-test", webhook.pk))

    assert response.status_code == 404
    assert not DeliveryAttempt.objects.exists()


# --- redelivery -----------------------------------------------------------------------------


def test_redeliver_schedules_a_new_attempt_of_the_same_event(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    first = make_attempt(webhook, Status.FAILED, number=1)

    response = client.post(url("attempt-redeliver", first.pk))

    assert response.status_code == 202
    new = DeliveryAttempt.objects.exclude(pk=first.pk).get()
    assert response.json()["id"] == new.pk
    assert (new.event_id, new.number, new.trigger, new.status) == (
        first.event_id,
        2,
        "manual",
        "scheduled",
    )


def test_a_redelivery_carries_the_same_webhook_id(accounting, receiver):
    key, client = accounting
    webhook = make_webhook(key, url=receiver.url("/erp"))
    client.post(url("webhook-test", webhook.pk))
    engine.run()
    sent = DeliveryAttempt.objects.get()

    assert client.post(url("attempt-redeliver", sent.pk)).status_code == 202
    engine.run()

    first, again = receiver.wait_for(2, "/erp")
    assert first.headers["webhook-id"] == again.headers["webhook-id"] == sent.event_id
    assert again.headers["X-Webhook-Attempt"] == "2"
    assert again.body == first.body


def test_redeliver_while_one_is_scheduled_answers_409(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    failed = make_attempt(webhook, Status.FAILED)
    make_attempt(webhook, Status.SCHEDULED, number=2, event=failed.event)

    response = client.post(url("attempt-redeliver", failed.pk))

    assert response.status_code == 409
    assert response.json() == {"detail": "A delivery of this event is already scheduled."}
    assert DeliveryAttempt.objects.count() == 2


def test_redeliver_to_an_inactive_webhook_answers_409(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    failed = make_attempt(webhook, Status.FAILED)
    webhook.deactivate("HTTP 410")

    response = client.post(url("attempt-redeliver", failed.pk))

    assert response.status_code == 409
    assert response.json() == {"detail": "The webhook is inactive; reactivate it first."}
    assert DeliveryAttempt.objects.count() == 1


def test_attempts_of_a_deleted_webhook_cannot_be_redelivered(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    failed = make_attempt(webhook, Status.FAILED)
    client.delete(url("webhook-detail", webhook.pk))

    response = client.post(url("attempt-redeliver", failed.pk))

    assert response.status_code == 404
    assert DeliveryAttempt.objects.count() == 1


def test_redelivering_another_keys_attempt_answers_404_and_sends_nothing(accounting, warehouse):
    failed = make_attempt(make_webhook(accounting[0]), Status.FAILED)

    response = warehouse[1].post(url("attempt-redeliver", failed.pk))

    assert response.status_code == 404
    assert DeliveryAttempt.objects.count() == 1


@pytest.mark.parametrize(
    "path", ["/api/attempts/", "/api/attempts/1/", "/api/nope", "/api/webhooks/1/nope/"]
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_paths_the_api_does_not_have_answer_its_json_404(client, path, method):
    answer = getattr(client, method)(path)
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "Not found."}


@pytest.mark.django_db(transaction=True)
def test_an_answer_from_a_private_address_is_not_shown_to_the_key(receiver, woken, admin_client):
    from django.urls import reverse

    from example_project.shop.models import Order
    from tests.receiver import Status

    api_key, client = make_key()
    hook = Webhook.objects.create(
        api_key=api_key,
        url=receiver.script("/internal", [Status(500, b"db-password=hunter2")]),
        events=["order.created"],
    )
    Order.objects.create()
    engine.run()
    (attempt,) = DeliveryAttempt.objects.filter(webhook=hook, number=1)
    assert attempt.response_excerpt == "db-password=hunter2"  # kept for the store's staff
    (entry,) = client.get(url("webhook-attempts", hook.pk)).json()["results"][-1:]
    assert entry["response_status"] == 500
    assert entry["response_excerpt"] == ""
    staff_page = admin_client.get(
        reverse("admin:django_webhooks_deliveryattempt_change", args=[attempt.pk])
    )
    assert "hunter2" in staff_page.content.decode()
