"""Each webhook's learned concurrency limit and pause (django_webhooks.pacing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from django_webhooks import pacing
from django_webhooks.models import DeliveryAttempt, Pacing, Webhook
from django_webhooks.worker import claims, dispatch, engine, leases
from example_project.shop.models import Order

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
URL = "https://receiver.example.com/hook"
Status = DeliveryAttempt.Status


def answer(status=200, *, at=0.0, ms=100, retry_after="", succeeded=None):
    answered = T0 + timedelta(seconds=at)
    return pacing.Answer(
        status=status,
        succeeded=status == 200 if succeeded is None else succeeded,
        duration_ms=ms,
        sent_at=answered - timedelta(milliseconds=ms),
        answered_at=answered,
        retry_after=retry_after,
    )


def fresh() -> Pacing:
    return Pacing(webhook_id=1)


def test_slow_start_doubles_the_limit_per_round_of_good_answers():
    state = fresh()
    assert state.limit == pacing.INITIAL_LIMIT
    pacing.learn(state, [answer(at=0.1) for _ in range(4)])
    assert state.limit == 8
    pacing.learn(state, [answer(at=0.2) for _ in range(8)])
    assert state.limit == 16


@pytest.mark.parametrize("status", [429, 503, None])
def test_overload_halves_the_limit_once_per_round(status):
    state = fresh()
    state.limit = 16.0
    # Four of the requests sent with the old limit fail together: one cut, not four.
    pacing.learn(state, [answer(status, at=1.0, ms=50) for _ in range(4)])
    assert state.limit == 8
    assert state.refused_at_limit == 16
    assert state.decreased_at == T0 + timedelta(seconds=1)
    # A request sent after the cut that fails again cuts again.
    pacing.learn(state, [answer(status, at=2.0, ms=50)])
    assert state.limit == 4


def test_the_limit_never_goes_below_one_nor_above_the_ceiling(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "CONCURRENCY_PER_WEBHOOK": 6}
    state = fresh()
    for second in range(10):
        pacing.learn(state, [answer(None, at=second, ms=10)])
    assert state.limit == 1
    assert state.slots == 1
    # Refused again at one a time: a pause of our own, as if it had said Retry-After: 1.
    assert state.paused_until == T0 + timedelta(seconds=9) + pacing.FLOOR_PAUSE
    state = fresh()
    pacing.learn(state, [answer(at=0.1) for _ in range(100)])
    assert state.limit == 6
    state.limit = 40.0  # learned under a higher ceiling, lowered since
    assert state.slots == 6


def test_after_a_cut_the_limit_grows_by_one_per_round_and_slower_near_the_refusal():
    state = fresh()
    state.limit = 4.0
    pacing.learn(state, [answer(503, at=1.0, ms=5)])
    assert state.limit == 2
    pacing.learn(state, [answer(at=1.1, ms=50) for _ in range(2)])  # one round at 2: about +1
    assert state.limit == pytest.approx(2.9)
    # From one below where it was refused: an eighth of the pace (+1/8 per round).
    state.limit = 3.0
    pacing.learn(state, [answer(at=1.2) for _ in range(3)])
    assert state.limit == pytest.approx(3.125, abs=0.01)
    # Long after the refusal, the edge is forgotten: +1 per round again.
    pacing.learn(state, [answer(at=60.0) for _ in range(3)])
    assert state.limit == pytest.approx(4.05, abs=0.05)


def test_past_the_edge_the_limit_grows_at_the_usual_pace_again():
    state = fresh()
    state.limit = 4.0
    pacing.learn(state, [answer(503, at=1.0, ms=5)])  # edge 4
    state.limit = 5.0  # the receiver took one more than where it refused
    pacing.learn(state, [answer(at=1.2) for _ in range(5)])
    assert state.limit == pytest.approx(5.9, abs=0.05)


def test_refused_again_at_the_edge_steps_back_by_one_instead_of_halving():
    state = fresh()
    state.limit = 8.0
    pacing.learn(state, [answer(503, at=1.0, ms=5)])  # first refusal: 8 -> 4, edge 8
    assert state.limit == 4
    state.limit = 8.2  # grown back to where it refused
    pacing.learn(state, [answer(503, at=2.0, ms=5)])
    assert state.limit == pytest.approx(7.2)
    assert state.refused_at_limit == pytest.approx(8.2)
    assert state.decreased_at == T0 + timedelta(seconds=2)
    # Refused below the edge: the receiver's room shrank, and the limit halves again.
    pacing.learn(state, [answer(503, at=3.0, ms=5)])
    assert state.limit == pytest.approx(3.6)
    assert state.refused_at_limit == pytest.approx(7.2)


def back_at_the_edge() -> Pacing:
    """Refused at 8 one second in (8 -> 4), then grown back to 8."""
    state = fresh()
    state.limit = 8.0
    pacing.learn(state, [answer(503, at=1.0, ms=5)])
    state.limit = 8.0
    return state


def test_no_answer_at_the_edge_halves_the_limit():
    state = back_at_the_edge()
    # A timeout or a connection error says nothing of the receiver's room: it may be down.
    pacing.learn(state, [answer(None, at=7.0, ms=5000)])  # sent at 2 s, after the cut
    assert state.limit == 4


def test_a_latency_cut_long_after_a_refusal_forgets_its_edge():
    state = back_at_the_edge()
    pacing.learn(state, [answer(at=40.0, ms=100)])
    pacing.learn(state, [answer(at=40.5, ms=400)])  # queued: a tenth off, 40 s after the 503
    assert state.refused_at_limit is None
    state.limit = 8.0
    pacing.learn(state, [answer(503, at=41.0, ms=5)])  # not a known edge any more: halves
    assert state.limit == 4


def test_a_forgotten_edge_halves_the_limit_again():
    state = back_at_the_edge()
    later = (pacing.EDGE_MEMORY + timedelta(seconds=2)).total_seconds()
    pacing.learn(state, [answer(503, at=later, ms=5)])
    assert state.limit == 4


def test_good_answers_to_requests_sent_before_a_cut_do_not_grow_the_limit():
    state = fresh()
    pacing.learn(state, [answer(503, at=1.0, ms=2)])  # refused at once: 4 -> 2
    # The three sent with it come back well after the cut: they were sent under the old limit.
    pacing.learn(state, [answer(at=1.05, ms=100) for _ in range(3)])
    assert state.limit == 2
    pacing.learn(state, [answer(at=1.2, ms=100)])  # sent at 1.1, after the cut
    assert state.limit == 2.5


def test_answers_much_slower_than_the_fastest_seen_take_a_tenth_off():
    state = fresh()
    state.limit = 20.0
    state.threshold = 20.0
    pacing.learn(state, [answer(at=0.1, ms=100)])
    assert state.latency_floor_ms == 100
    pacing.learn(state, [answer(at=0.5, ms=400)])  # queued at the receiver
    assert state.limit == pytest.approx(20.05 * 0.9)
    pacing.learn(state, [answer(at=0.7, ms=130)])  # within the slack: grows again
    assert state.limit > 20.05 * 0.9


def test_other_answers_neither_grow_nor_cut_the_limit():
    state = fresh()
    pacing.learn(state, [answer(500, at=0.1), answer(404, at=0.2)])
    assert state.limit == pacing.INITIAL_LIMIT


def test_after_a_pause_one_request_goes_first_then_slow_start_to_half():
    state = fresh()
    state.limit = 40.0
    pacing.learn(state, [answer(503, at=0.0, ms=2, retry_after="2") for _ in range(5)])
    assert state.limit == 1
    assert state.threshold == 20
    assert state.paused_until == T0 + timedelta(seconds=2)
    pacing.learn(state, [answer(at=2.1, ms=5)])  # the probe after the pause
    assert state.limit == 2
    pacing.learn(state, [answer(at=2.2, ms=5) for _ in range(2)])
    assert state.limit == 4


def test_retry_after_on_429_or_503_pauses_the_webhook():
    state = fresh()
    pacing.learn(state, [answer(503, at=0.0, retry_after="7")])
    assert state.paused_until == T0 + timedelta(seconds=7)
    assert state.is_paused(T0 + timedelta(seconds=6))
    assert not state.is_paused(T0 + timedelta(seconds=7))
    pacing.learn(state, [answer(500, at=1.0, retry_after="60")])  # not an overload answer
    assert state.paused_until == T0 + timedelta(seconds=7)
    pacing.learn(state, [answer(429, at=1.0, retry_after="2")])  # an earlier end: kept
    assert state.paused_until == T0 + timedelta(seconds=7)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", T0 + timedelta(seconds=120)),
        (" 5 ", T0 + timedelta(seconds=5)),
        ("Wed, 02 Dec 2026 12:00:30 GMT", T0 + timedelta(seconds=30)),
        ("999999", T0 + pacing.MAX_PAUSE),
        ("", None),
        ("0", None),
        ("-5", None),
        ("soon", None),
        ("Wed, 02 Dec 2026 11:00:00 GMT", None),  # already over
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value, expected):
    assert pacing.retry_after(value, T0) == expected


def _due(api_key, count=1, **fields):
    webhook = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"], **fields)
    for _ in range(count):
        Order.objects.create()
    dispatch.dispatch_pending()
    return webhook


@pytest.mark.django_db
def test_a_paused_webhook_is_not_claimed_and_the_others_are(api_key, woken):
    paused = _due(api_key, 2)
    Pacing.objects.create(webhook=paused, paused_until=T0.replace(year=2099))
    other = Webhook.objects.create(api_key=api_key, url=URL + "/2", events=["order.created"])
    Order.objects.create()
    dispatch.dispatch_pending()
    claimed, _ = claims.claim(10)
    assert {attempt.webhook_id for attempt in claimed} == {other.pk}
    assert DeliveryAttempt.objects.filter(webhook=paused, status=Status.SCHEDULED).count() == 3


@pytest.mark.django_db
def test_a_first_claim_starts_the_webhook_at_the_initial_limit(api_key, woken):
    webhook = _due(api_key, 10)
    claimed, _ = claims.claim(10)
    assert len(claimed) == pacing.INITIAL_LIMIT
    assert Pacing.objects.get(webhook=webhook).limit == pacing.INITIAL_LIMIT


@pytest.mark.django_db
def test_one_key_takes_at_most_half_of_a_runs_threads(api_key, woken):
    from tests.factories import make_key

    greedy = [_due(api_key, 4) for _ in range(3)]  # 12 due, room for 12
    other_key, _ = make_key("Warehouse")
    polite = _due(other_key, 1)
    share = claims.RunShare(threads=8)
    claimed, more = claims.claim(8, share)
    by_webhook = {attempt.webhook_id for attempt in claimed}
    assert polite.pk in by_webhook
    assert sum(1 for attempt in claimed if attempt.webhook_id != polite.pk) == 4
    assert more
    assert greedy


@pytest.mark.django_db
def test_answers_move_the_limit_and_a_503_with_retry_after_pauses(api_key, woken, http_mock):
    webhook = _due(api_key, 8)
    http_mock.post(URL, status=200)
    assert engine.run().succeeded == 8
    grown = Pacing.objects.get(webhook=webhook).limit
    assert grown > pacing.INITIAL_LIMIT
    http_mock.replace("POST", URL, status=503, headers={"Retry-After": "120"})
    Order.objects.create()
    Order.objects.create()
    dispatch.dispatch_pending()
    stats = engine.run()
    state = Pacing.objects.get(webhook=webhook)
    assert stats.failed >= 1
    assert state.limit < grown
    assert state.paused_until is not None
    # The failed attempt's retry is on the store's schedule; what was queued waits unspent.
    waiting = DeliveryAttempt.objects.filter(webhook=webhook, status=Status.SCHEDULED)
    assert waiting.filter(number=1).count() == 2 - stats.failed
    assert waiting.filter(number=2).count() == stats.failed


@pytest.mark.django_db
def test_switching_a_webhook_back_on_starts_its_pace_afresh(api_key):
    webhook = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    Pacing.objects.create(webhook=webhook, limit=1.0, paused_until=T0.replace(year=2099))
    webhook.deactivate("HTTP 410")
    webhook.activate()
    assert not Pacing.objects.filter(webhook=webhook).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "update-then-read"])
def test_a_claim_is_four_statements_and_loads_what_sending_needs(
    api_key, woken, monkeypatch, returning
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_webhooks import rows

    if not returning:
        monkeypatch.setattr(rows, "_returns_from_update", lambda connection: False)
    webhook = _due(api_key, 3)
    share = claims.RunShare(threads=10)
    claims.claim(1, share)  # a run's first claim for the webhook also makes its pacing row
    claims._events.clear()
    with CaptureQueriesContext(connection) as captured:
        claimed, _ = claims.claim(10, share)
    statements = [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT"))
    ]
    # Due rows, pacing locked (with webhooks and keys), in flight counted after the lock,
    # UPDATE (RETURNING), [the attempts], events.
    assert len(statements) == 4 + (not returning) + 1
    assert "pacing" in statements[1]
    assert "COUNT" in statements[2]
    assert statements[3].startswith("UPDATE")
    assert ("RETURNING" in statements[3]) is returning
    assert [attempt.status for attempt in claimed] == [Status.SENDING] * 2
    assert [attempt.claims for attempt in claimed] == [1, 1]
    assert all(attempt.lease_expires_at > attempt.started_at for attempt in claimed)
    with CaptureQueriesContext(connection) as reading:
        for attempt in claimed:
            assert attempt.webhook == webhook
            assert attempt.webhook.api_key.signing_secret
            assert attempt.event.type == "order.created"
            assert attempt.scheduled_for.tzinfo is not None
            assert attempt.object_override is None
    assert reading.captured_queries == []  # nothing deferred is read afterwards
    stored = DeliveryAttempt.objects.get(pk=claimed[0].pk)
    assert (stored.status, stored.claims, stored.claimed_by) == (
        Status.SENDING,
        1,
        leases.claimant(),
    )


@pytest.mark.django_db
def test_a_claim_the_database_broke_off_loses_nothing_in_flight(
    api_key, woken, http_mock, monkeypatch
):
    from django.db import OperationalError

    _due(api_key, 6)
    http_mock.post(URL, status=200)
    real_claim, calls = engine.claim, []

    def claim_that_deadlocks_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("deadlock detected")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(engine, "claim", claim_that_deadlocks_once)
    stats = engine.run()
    assert len(calls) > 2  # it went on claiming after the failure
    assert stats.succeeded == 6
    assert not DeliveryAttempt.objects.exclude(status=Status.SUCCEEDED).exists()


@pytest.mark.django_db
def test_outcomes_the_database_broke_off_are_recorded_on_a_second_try(
    api_key, woken, http_mock, monkeypatch
):
    from django.db import OperationalError

    _due(api_key, 3)
    http_mock.post(URL, status=200)
    real_record, calls = engine.record_outcomes, []

    def record_that_deadlocks_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(engine, "record_outcomes", record_that_deadlocks_once)
    assert engine.run().succeeded == 3
    assert DeliveryAttempt.objects.filter(status=Status.SUCCEEDED).count() == 3


@pytest.mark.django_db
def test_a_window_full_of_webhooks_without_room_does_not_hide_the_others(
    api_key, woken, monkeypatch
):
    # A dead receiver's backlog, due first, fills the claim's whole window: its webhook is
    # at its limit, and the attempts behind the window are another webhook's.
    monkeypatch.setattr(claims, "CLAIM_WINDOW", 16)
    dead = _due(api_key, 20)
    Pacing.objects.create(webhook=dead, limit=1.0)
    claims.claim(1)  # its one request in flight
    other = Webhook.objects.create(api_key=api_key, url=URL + "/2", events=["order.created"])
    earlier = timezone.now() - timedelta(minutes=1)
    DeliveryAttempt.objects.filter(webhook=dead).update(scheduled_for=earlier)  # due first
    for _ in range(3):
        Order.objects.create()
    dispatch.dispatch_pending()
    behind = DeliveryAttempt.objects.filter(webhook=other, status=Status.SCHEDULED)
    assert behind.count() == 3
    claimed, _ = claims.claim(8)
    assert sorted(attempt.webhook_id for attempt in claimed) == [other.pk] * 3
