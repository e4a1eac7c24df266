"""A fast receiver's attempts go one after the other from one thread (sending.in_turn); a run
stops at the first answer that is not a success, and what it did not send goes back to be
claimed again with its attempt unspent."""

from __future__ import annotations

import threading

import pytest
import responses

from django_webhooks.models import DeliveryAttempt, Pacing, Webhook
from django_webhooks.worker import claims, dispatch, engine, sending
from example_project.shop.models import Order

URL = "https://receiver.example.com/hook"
Status = DeliveryAttempt.Status


@pytest.mark.parametrize(
    ("floor_ms", "size"),
    [(None, 1), (0.02, 32), (1.0, 32), (4.0, 25), (20.0, 5), (50.0, 2), (300.0, 1)],
)
def test_how_many_go_in_turn_follows_the_receivers_usual_speed(floor_ms, size):
    assert sending.in_turn(floor_ms) == size


def _due(api_key, count: int, latency_floor_ms: float | None) -> Webhook:
    webhook = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    Pacing.objects.create(webhook=webhook, limit=16.0, latency_floor_ms=latency_floor_ms)
    for _ in range(count):
        Order.objects.create()
    dispatch.dispatch_pending()
    return webhook


def _threads_that_sent(http_mock: responses.RequestsMock, answers: list[int]) -> list[int]:
    """Answer the POSTs with ``answers`` in turn (200 once they run out); the sending
    thread of each."""
    seen: list[int] = []

    def answer(request):
        seen.append(threading.get_ident())
        return (answers.pop(0) if answers else 200, {}, "ok")

    http_mock.add_callback(responses.POST, URL, callback=answer)
    return seen


@pytest.mark.django_db
def test_a_fast_receiver_gets_its_attempts_from_one_thread(api_key, woken, http_mock):
    _due(api_key, 6, latency_floor_ms=1.0)
    threads = _threads_that_sent(http_mock, [])
    stats = engine.run()
    assert stats.succeeded == 6
    assert len(set(threads)) == 1


@pytest.mark.django_db
def test_a_receiver_of_unknown_speed_gets_a_thread_per_attempt(api_key, woken, http_mock):
    _due(api_key, 6, latency_floor_ms=None)
    barrier = threading.Barrier(6, timeout=10)
    seen: list[int] = []

    def answer(request):
        seen.append(threading.get_ident())
        barrier.wait()  # only if all six are in flight at once
        return (200, {}, "ok")

    http_mock.add_callback(responses.POST, URL, callback=answer)
    assert engine.run().succeeded == 6
    assert len(set(seen)) == 6


@pytest.mark.django_db
def test_a_refusal_stops_the_run_and_the_rest_go_back_unspent(api_key, woken, http_mock):
    webhook = _due(api_key, 5, latency_floor_ms=1.0)
    _threads_that_sent(http_mock, [503])
    stats = engine.run()
    # One request was refused; the four behind it were not sent into the refusal but went
    # back, were claimed again and delivered, each on its first attempt.
    assert len(http_mock.calls) == 5
    assert stats.failed == 1
    assert stats.succeeded == 4
    attempts = DeliveryAttempt.objects.filter(webhook=webhook)
    refused = attempts.get(response_status=503)
    assert refused.number == 1
    assert attempts.filter(status=Status.SCHEDULED, number=2).count() == 1  # its retry
    delivered = attempts.filter(status=Status.SUCCEEDED)
    assert delivered.count() == 4
    assert set(delivered.values_list("number", flat=True)) == {1}
    assert set(delivered.values_list("claims", flat=True)) == {1}  # giving back is no loss


@pytest.mark.django_db
def test_a_run_starts_no_request_after_its_budget(api_key, woken, http_mock, monkeypatch):
    webhook = _due(api_key, 3, latency_floor_ms=1.0)
    monkeypatch.setattr(sending, "IN_TURN_BUDGET_SECONDS", -1.0)  # spent after the first
    seen = _threads_that_sent(http_mock, [])
    given_back: list[int] = []
    real_give_back = engine.give_back

    def recording_give_back(attempts, **kwargs):
        given_back.append(len(attempts))
        return real_give_back(attempts, **kwargs)

    monkeypatch.setattr(engine, "give_back", recording_give_back)
    assert engine.run().succeeded == 3
    # Each turn sent one and gave the rest back, claimed anew by the next turn.
    assert given_back == [2, 1]
    assert len(seen) == 3
    assert set(
        DeliveryAttempt.objects.filter(webhook=webhook).values_list("claims", flat=True)
    ) == {1}


@pytest.mark.django_db
def test_a_claim_counts_threads_and_takes_a_turn_for_each(api_key, woken):
    fast = _due(api_key, 20, latency_floor_ms=20.0)  # 5 in turn; room for 16 (its limit)
    share = claims.RunShare(threads=8)
    claimed, more = claims.claim(2, share)
    assert [attempt.webhook_id for attempt in claimed] == [fast.pk] * 10
    assert share.turns == {fast.pk: 5}  # what the run sends them by, whatever it learns next
    assert more is True  # 10 left, with room for 6: another worker could take them
    DeliveryAttempt.objects.update(status=Status.SCHEDULED, claims=0)
    Pacing.objects.filter(webhook=fast).update(limit=64.0)
    # The key's share counts threads too: half of 2 is one thread, one turn of 5.
    claimed, more = claims.claim(2, claims.RunShare(threads=2))
    assert len(claimed) == 5
    assert more is True


def test_send_in_turn_says_what_it_did_not_send(http_mock):
    http_mock.post(URL, status=200)
    http_mock.post(URL, status=429)
    batch = [
        sending.Prepared(attempt=DeliveryAttempt(pk=n), url=URL, body=b"{}", headers={})
        for n in range(4)
    ]
    sent, not_sent = sending.send_in_turn(batch)
    assert [item.result.status for item in sent] == [200, 429]
    assert not_sent == batch[2:]
