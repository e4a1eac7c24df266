"""The queue glue without a cluster: wake-ups, the ticker's decisions, the sweeper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from django_webhooks import timing, wakeup
from django_webhooks.models import DeliveryAttempt
from django_webhooks.worker import dispatch, tasks
from django_webhooks.worker.ticker import TICK_SECONDS, Ticker
from example_project.shop.models import Order

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.webhook(events=["order.created"]),
]


def test_wake_happens_after_commit_and_not_on_rollback(webhook, woken):
    with transaction.atomic():
        Order.objects.create()
        assert woken == []
    assert woken == ["default"]

    def order_then_fail():
        with transaction.atomic():
            Order.objects.create()
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        order_then_fail()
    assert woken == ["default"]


def test_a_burst_of_commits_wakes_once(webhook, woken, monkeypatch):
    monkeypatch.setattr(timing, "WAKE_DEBOUNCE_SECONDS", 60)
    monkeypatch.setattr(wakeup, "_last_wake", -60)
    for _ in range(5):
        Order.objects.create()
    assert woken == ["default"]


def test_wake_never_raises_when_the_broker_is_down(monkeypatch):
    def down(cluster):
        raise ConnectionError("Connection refused")

    monkeypatch.setattr(wakeup, "_broker", down)
    assert wakeup.wake() is False


def test_ticker_wakes_for_new_events_and_due_retries_only_once(webhook, woken, clock):
    ticker = Ticker()
    Order.objects.create()
    woken.clear()
    ticker.tick()
    assert woken == ["default"]  # an undispatched event
    ticker.tick()
    assert woken == ["default"]  # nothing new
    dispatch.dispatch_pending()
    DeliveryAttempt.objects.update(scheduled_for=clock.now + timedelta(seconds=60))
    pause = ticker.tick()
    assert pause == TICK_SECONDS  # the retry is further away than a tick
    clock.advance(59.8)
    assert ticker.tick() == pytest.approx(0.2, abs=0.01)  # sleeps until the retry is due
    clock.advance(0.2)
    ticker.tick()
    assert len(woken) == 2  # the retry fell due


def test_ticker_tries_a_failed_wake_up_again_at_once(webhook, monkeypatch, clock):
    results = [False, True]
    calls = []
    monkeypatch.setattr(
        wakeup, "wake", lambda using="default": calls.append(using) or results.pop(0)
    )
    ticker = Ticker()
    Order.objects.create()
    ticker.tick()
    ticker.tick()
    assert calls == ["default", "default"]
    ticker.tick()
    assert len(calls) == 2


def test_sweep_wakes_for_forgotten_work_only(webhook, woken, clock):
    assert tasks.sweep() == {"released": 0, "woke": False}
    Order.objects.create()
    woken.clear()
    assert tasks.sweep()["woke"] is False  # a fresh event: its own wake-up is on the way
    clock.advance(tasks.UNCLAIMED_AFTER_SECONDS + 1)
    assert tasks.sweep()["woke"] is True
