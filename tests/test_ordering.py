"""Ordered webhooks at unit level: the claim holds an object's later events back while an
earlier one is scheduled, sending or waiting for its retry, and lets them go once it
succeeded or was given up; other objects, unordered webhooks and redeliveries go as before."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings

from django_webhooks import events, redelivery
from django_webhooks.models import DeliveryAttempt, Event, Webhook
from django_webhooks.worker import claims, dispatch, engine, leases
from example_project.shop.models import Order

URL = "https://erp.example.com/hooks"
OTHER = "https://bi.example.com/hooks"
ALL_ORDER_EVENTS = sorted(events.ORDER_EVENT_TYPES)
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.webhook(url=URL, events=ALL_ORDER_EVENTS, ordered=True),
]
Status = DeliveryAttempt.Status


def three_events(note: str = "") -> Order:
    """An order with events 1 (created), 2 (updated) and 3 (status_changed)."""
    order = Order.objects.create(note=note)
    order.status = Order.Status.PAID
    order.save()
    return order


def sent(http_mock, url: str = URL) -> list[tuple[int, int]]:
    """(order id, sequence) of each request to ``url``, in the order they were sent."""
    bodies = [json.loads(call.request.body) for call in http_mock.calls if call.request.url == url]
    return [(body["data"]["object"]["id"], body["sequence"]) for body in bodies]


def claimed_numbers(limit: int = 10) -> list[int | None]:
    attempts, _more = claims.claim(limit)
    return sorted(attempt.sequence for attempt in attempts)


def test_an_ordered_webhooks_attempts_carry_the_object_and_its_number(webhook):
    order = three_events()
    dispatch.dispatch_pending()
    rows = DeliveryAttempt.objects.order_by("sequence").values_list("object_key", "sequence")
    assert list(rows) == [(f"shop.order:{order.pk}", n) for n in (1, 2, 3)]


def test_a_later_event_waits_while_the_earlier_is_scheduled_or_sending(webhook):
    three_events()
    dispatch.dispatch_pending()
    assert claimed_numbers() == [1]  # 2 and 3 wait for 1, scheduled
    assert claimed_numbers() == []  # ... and sending
    DeliveryAttempt.objects.filter(sequence=1).update(status=Status.SUCCEEDED)
    assert claimed_numbers() == [2]
    DeliveryAttempt.objects.filter(sequence=2).update(status=Status.SUCCEEDED)
    assert claimed_numbers() == [3]


def test_a_pending_retry_holds_the_next_until_it_succeeds(webhook, http_mock, clock):
    answers = iter([500])
    http_mock.add_callback("POST", URL, callback=lambda request: (next(answers, 200), {}, ""))
    order = three_events()
    assert engine.run().sent == 1  # 1 failed; its retry is due in 60 s, and 2 and 3 wait
    retry = DeliveryAttempt.objects.get(number=2)
    assert (retry.status, retry.object_key, retry.sequence) == (
        Status.SCHEDULED,
        f"shop.order:{order.pk}",
        1,
    )
    clock.advance(59)
    assert engine.run().sent == 0
    clock.advance(1)
    assert engine.run().sent == 3
    assert sent(http_mock) == [(order.pk, 1), (order.pk, 1), (order.pk, 2), (order.pk, 3)]


@override_settings(WEBHOOKS={"ORDER_MODEL": "shop.Order", "RETRY_DELAYS": []})
def test_an_event_given_up_lets_the_next_go(webhook, http_mock):
    answers = iter([500])
    http_mock.add_callback("POST", URL, callback=lambda request: (next(answers, 200), {}, ""))
    order = three_events()
    assert engine.run().sent == 3
    assert sent(http_mock) == [(order.pk, 1), (order.pk, 2), (order.pk, 3)]
    statuses = DeliveryAttempt.objects.order_by("sequence").values_list("status", flat=True)
    assert list(statuses) == [Status.FAILED, Status.SUCCEEDED, Status.SUCCEEDED]


def test_a_cancelled_attempt_holds_nothing_back(webhook):
    three_events()
    dispatch.dispatch_pending()
    DeliveryAttempt.objects.filter(sequence=1).update(status=Status.CANCELLED)
    assert claimed_numbers() == [2]


def test_other_objects_and_unordered_webhooks_are_not_held_back(webhook, api_key, http_mock):
    Webhook.objects.create(api_key=api_key, url=OTHER, events=ALL_ORDER_EVENTS)  # unordered
    failing = three_events(note="fails")

    def answer(request):
        body = json.loads(request.body)
        first_of_failing = body["data"]["object"]["id"] == failing.pk and body["sequence"] == 1
        return (500 if request.url == URL and first_of_failing else 200), {}, ""

    http_mock.add_callback("POST", URL, callback=answer)
    http_mock.add_callback("POST", OTHER, callback=answer)
    fine = three_events()
    engine.run()
    assert sorted(sent(http_mock, OTHER)) == sorted(
        (order.pk, n) for order in (failing, fine) for n in (1, 2, 3)
    )
    assert sent(http_mock) == sorted(sent(http_mock), key=lambda item: item[1])
    assert sorted(sent(http_mock)) == [(failing.pk, 1), (fine.pk, 1), (fine.pk, 2), (fine.pk, 3)]
    unordered = DeliveryAttempt.objects.filter(url=OTHER)
    assert set(unordered.values_list("object_key", "sequence")) == {("", None)}


def test_a_redelivery_by_hand_is_outside_the_order_and_keeps_the_number(webhook, http_mock):
    http_mock.post(URL, status=200)
    order = three_events()
    dispatch.dispatch_pending()
    first = DeliveryAttempt.objects.get(sequence=1)
    DeliveryAttempt.objects.filter(pk=first.pk).update(status=Status.FAILED)
    # 2 is sending: an ordered attempt of 3 would wait, a redelivery of 1 does not.
    DeliveryAttempt.objects.filter(sequence=2).update(status=Status.SENDING)
    again = redelivery.redeliver(DeliveryAttempt.objects.get(pk=first.pk))
    assert (again.object_key, again.sequence) == ("", None)
    assert engine.run().sent == 1
    assert sent(http_mock) == [(order.pk, 1)]  # the original number, though sent out of turn
    assert DeliveryAttempt.objects.get(sequence=3).status == Status.SCHEDULED


def test_dispatch_fans_an_objects_events_out_in_their_order(webhook, woken):
    order = three_events()
    # The first event written last (two transactions whose clocks disagree): a batch that
    # sees 2 and 3 but not 1 leaves them for the next run.
    first = Event.objects.get(sequence=1)
    Event.objects.filter(pk=first.pk).update(
        created_at=Event.objects.get(sequence=3).created_at + timedelta(seconds=1)
    )
    woken.clear()
    assert dispatch.dispatch_pending(limit=2) == 0
    assert woken == ["default"]  # the ones left get another run soon
    assert not DeliveryAttempt.objects.exists()
    assert dispatch.dispatch_pending() == 3
    assert claimed_numbers() == [1]
    assert order.pk


@pytest.mark.webhook(url=URL, events=ALL_ORDER_EVENTS, ordered=False)
def test_without_ordered_webhooks_dispatch_asks_nothing_more(webhook, woken):
    from django.test.utils import CaptureQueriesContext

    three_events()
    first = Event.objects.get(sequence=1)
    Event.objects.filter(pk=first.pk).update(
        created_at=Event.objects.get(sequence=3).created_at + timedelta(seconds=1)
    )
    with CaptureQueriesContext(connection) as queries:
        assert dispatch.dispatch_pending(limit=2) == 2
    events_read = [q["sql"] for q in queries if 'FROM "django_webhooks_event"' in q["sql"]]
    assert len(events_read) == 2  # whether any waits, the batch itself; no look for earlier
    attempts, _more = claims.claim(10)
    assert len(attempts) == 2
    assert {(a.object_key, a.sequence) for a in attempts} == {("", None)}


def test_a_lost_claim_given_up_keeps_its_place_in_the_retry(webhook, clock):
    from django_webhooks import timing

    order = three_events()
    dispatch.dispatch_pending()
    assert claimed_numbers() == [1]
    DeliveryAttempt.objects.filter(sequence=1).update(claims=timing.MAX_CLAIMS)
    clock.advance(timing.lease_duration().total_seconds() + 1)
    assert leases.release_lost_claims() == 1
    retry = DeliveryAttempt.objects.get(number=2)
    assert (retry.object_key, retry.sequence) == (f"shop.order:{order.pk}", 1)
    assert claimed_numbers() == []  # 2 and 3 wait for the retry of 1, due in 60 s
    clock.advance(60)
    assert claimed_numbers() == [1]


# --- the claim's plan --------------------------------------------------------------------------


def _claim_query(order_count: int = 3) -> str:
    """The claim's candidate SELECT, as run (values in place), over a log of finished rows."""
    from django.db.models import Max
    from django.test.utils import CaptureQueriesContext

    for _ in range(order_count):
        three_events()
    dispatch.dispatch_pending()
    webhook = Webhook.objects.get(url=URL)
    template = DeliveryAttempt.objects.filter(webhook=webhook).first()
    finished = [
        DeliveryAttempt(
            webhook=webhook,
            event_id=template.event_id,
            url=URL,
            event_type=template.event_type,
            number=1,
            status=Status.SUCCEEDED,
            scheduled_for=template.scheduled_for,
            object_key=template.object_key,
            sequence=template.sequence,
        )
        for _ in range(3000)
    ]
    DeliveryAttempt.objects.bulk_create(finished, batch_size=500)
    assert DeliveryAttempt.objects.aggregate(Max("id"))["id__max"]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as queries:
        claims.claim(1)
    (candidates,) = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"] or "EXISTS" in q["sql"]]
    return candidates


def _plan(sql: str, *, analyze: bool = False) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return "\n".join(str(row[3]) for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN ({'ANALYZE, ' if analyze else ''}COSTS OFF) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_ordering_probe_reads_its_partial_index(webhook):
    plan = _plan(_claim_query())
    assert "attempt_ordered_idx" in plan, plan


@pytest.mark.webhook(url=URL, events=ALL_ORDER_EVENTS, ordered=False)
def test_an_unordered_webhooks_claim_never_runs_the_probe(webhook):
    sql = _claim_query()
    assert not DeliveryAttempt.objects.exclude(object_key="").exists()  # not in the index
    if connection.vendor == "postgresql":
        plan = _plan(sql, analyze=True)
        lines = [line.strip() for line in plan.splitlines()]
        probe = lines[lines.index("SubPlan 1") + 1]
        assert "attempt_ordered_idx" in probe, plan
        assert "(never executed)" in probe, plan
