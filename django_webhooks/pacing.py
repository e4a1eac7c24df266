"""How many requests each webhook's receiver takes at a time, learned from its answers.

A fixed cap is wrong both ways: a slow but healthy receiver (300 ms) wants dozens in flight,
one with room for three is flooded by four, and each refusal spends one of the store's six
attempts. So each webhook has a concurrency *limit*, kept in the database so that every
worker on every host obeys the same one, and moved by the answers (AIMD, as TCP does):

* slow start: from :data:`INITIAL_LIMIT`, one more per good answer (the limit doubles per
  round trip) until the first sign of overload;
* then one more per round trip (``1 / limit`` per good answer), and within one of the limit
  at which the receiver last refused, an eighth of that: probing a known edge costs few
  refusals; only answers to requests sent after the last cut grow it;
* overload — 429, 503, no answer in time, a connection error — halves it at once, but a
  429 or 503 at the whole number it was refused at lately (or above) steps it back by one:
  the receiver's room has not shrunk, the probe went one too far, and halving would spend
  most of the time at half of what the receiver takes (no answer at all says nothing of its
  room, and halves); an answer much slower than the fastest seen lately (the receiver
  queues) takes a tenth off;
  only answers to requests sent *after* the last cut count, so the requests already in
  flight with the old limit do not cut it again;
* never below 1 nor above ``CONCURRENCY_PER_WEBHOOK``; refused again at 1, the webhook
  pauses for :data:`FLOOR_PAUSE` (a receiver that is down costs an attempt a second, not one
  per queued event).

A 429 or 503 with ``Retry-After`` also pauses the webhook (not the others) until then: the
attempt that got the answer is still a failed attempt on the store's schedule, but the
queued attempts of that webhook wait instead of spending theirs. When the pause ends one
request goes first, and the limit grows back by slow start up to half of where it was.

The limit, the requests in flight and the pause are shown on the admin's webhook page and
by ``manage.py webhooks_stats``; switching a webhook back on starts it afresh.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models

from .conf import webhook_settings

#: Where a webhook starts (and starts again when switched back on).
INITIAL_LIMIT = 4.0
#: Overload multiplies the limit by this; an answer that queued at the receiver by the other.
OVERLOAD_DECREASE = 0.5
LATENCY_DECREASE = 0.9
#: An answer this many times slower than the fastest seen lately (and by at least
#: LATENCY_SLACK_MS) says the receiver queues the requests it has.
LATENCY_RISE = 2.0
LATENCY_SLACK_MS = 50.0
#: How fast the fastest-seen latency forgets: each slower answer moves it this share of the way.
LATENCY_FLOOR_DRIFT = 0.02
#: Within one of the limit of the last refusal the limit grows this many times slower...
EDGE_SLOWDOWN = 8.0
#: ...for this long after it.
EDGE_MEMORY = timedelta(seconds=30)
#: Statuses that say "too much": with Retry-After they also pause the webhook.
OVERLOAD_STATUSES = frozenset({429, 503})
#: The longest pause a Retry-After can ask for.
MAX_PAUSE = timedelta(hours=1)
#: The pause of our own when a receiver refuses even one request at a time (no Retry-After).
FLOOR_PAUSE = timedelta(seconds=1)


class Pacing(models.Model):
    """One webhook's learned limit and pause; a missing row means the initial state."""

    webhook = models.OneToOneField(
        "django_webhooks.Webhook", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    limit = models.FloatField(default=INITIAL_LIMIT)
    #: Where slow start ended (null: not yet), and the limit when the receiver last refused.
    threshold = models.FloatField(null=True)
    refused_at_limit = models.FloatField(null=True)
    decreased_at = models.DateTimeField(null=True)
    #: The fastest answer seen lately, in milliseconds (it drifts up slowly).
    latency_floor_ms = models.FloatField(null=True)
    paused_until = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "pacing"

    def __str__(self) -> str:
        return f"webhook {self.webhook_id}: limit {self.limit:.1f}"

    @property
    def slots(self) -> int:
        """How many requests may be in flight now (the ceiling may have been lowered)."""
        ceiling = max(webhook_settings.CONCURRENCY_PER_WEBHOOK, 1)
        return max(1, min(math.floor(self.limit + 1e-9), ceiling))

    def is_paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now


@dataclass(frozen=True)
class Answer:
    """What pacing reads of one finished request."""

    status: int | None  # None: no answer (timeout, connection error)
    succeeded: bool
    duration_ms: float
    sent_at: datetime
    answered_at: datetime
    retry_after: str = ""  # the header, as received


def learn(state: Pacing, answers: Iterable[Answer]) -> None:
    """Move ``state`` (unsaved) by ``answers``, in the order they came."""
    ceiling = float(max(webhook_settings.CONCURRENCY_PER_WEBHOOK, 1))
    for answer in answers:
        overloaded = answer.status is None or answer.status in OVERLOAD_STATUSES
        queued = answer.succeeded and _queued(state, answer.duration_ms)
        if answer.succeeded:  # a refusal is quick and says nothing of the receiver's pace
            _note_latency(state, answer.duration_ms)
        paused = False
        if answer.status in OVERLOAD_STATUSES:
            pause = retry_after(answer.retry_after, answer.answered_at)
            if pause is not None and (state.paused_until is None or pause > state.paused_until):
                state.paused_until = pause
                paused = True
        if paused and (state.decreased_at is None or answer.sent_at > state.decreased_at):
            # As TCP after a timeout: one request first when the pause ends, then slow start
            # up to half of where it was (a backlog released at once would meet the outage).
            state.refused_at_limit = state.limit
            state.threshold = max(1.0, state.limit * OVERLOAD_DECREASE)
            state.limit = 1.0
            state.decreased_at = answer.answered_at
        elif overloaded or queued:
            if state.decreased_at is None or answer.sent_at > state.decreased_at:
                factor = OVERLOAD_DECREASE if overloaded else LATENCY_DECREASE
                if overloaded and state.limit <= 1.0:
                    # Refused even one at a time and no Retry-After: a short pause of our
                    # own, so that the queued attempts wait instead of spending theirs.
                    floor_pause = answer.answered_at + FLOOR_PAUSE
                    if state.paused_until is None or floor_pause > state.paused_until:
                        state.paused_until = floor_pause
                # A 429 or 503 says "one too many"; no answer at all says nothing of room.
                refused = answer.status in OVERLOAD_STATUSES
                at_edge = refused and _at_known_edge(state, answer.answered_at)
                if overloaded:
                    state.refused_at_limit = state.limit
                elif _edge_forgotten(state, answer.answered_at):
                    # This cut restarts the edge's memory: a refusal from before it must not.
                    state.refused_at_limit = None
                if at_edge:
                    # The probe went one too far; one back is where it last answered well.
                    state.limit = max(1.0, state.limit - 1.0)
                else:
                    state.limit = max(1.0, state.limit * factor)
                state.threshold = state.limit
                state.decreased_at = answer.answered_at
        elif answer.succeeded and (
            state.decreased_at is None or answer.sent_at > state.decreased_at
        ):
            # Only answers to requests sent under the current limit say it is not too high.
            state.limit = min(ceiling, state.limit + _growth(state, answer.answered_at))
    state.limit = min(state.limit, ceiling)


def _growth(state: Pacing, now: datetime) -> float:
    if state.threshold is None or state.limit < state.threshold:
        return 1.0
    step = 1.0 / state.limit
    near_edge = (
        state.refused_at_limit is not None
        and state.refused_at_limit - 1 <= state.limit < state.refused_at_limit + 1
        and not _edge_forgotten(state, now)
    )
    return step / EDGE_SLOWDOWN if near_edge else step


def _at_known_edge(state: Pacing, now: datetime) -> bool:
    """Whether the limit reached the one the receiver refused at lately (and not lower)."""
    return (
        state.refused_at_limit is not None
        and math.floor(state.limit + 1e-9) >= math.floor(state.refused_at_limit + 1e-9)
        and not _edge_forgotten(state, now)
    )


def _edge_forgotten(state: Pacing, now: datetime) -> bool:
    return state.decreased_at is None or now - state.decreased_at >= EDGE_MEMORY


def _queued(state: Pacing, duration_ms: float) -> bool:
    floor = state.latency_floor_ms
    return (
        floor is not None
        and duration_ms > floor * LATENCY_RISE
        and duration_ms > floor + LATENCY_SLACK_MS
    )


def _note_latency(state: Pacing, duration_ms: float) -> None:
    floor = state.latency_floor_ms
    if floor is None or duration_ms < floor:
        state.latency_floor_ms = float(duration_ms)
    else:
        state.latency_floor_ms = floor + (duration_ms - floor) * LATENCY_FLOOR_DRIFT


def retry_after(value: str, now: datetime) -> datetime | None:
    """When a ``Retry-After`` (seconds or an HTTP date) ends; None: absent or unreadable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        until = now + timedelta(seconds=int(value))
    else:
        try:
            until = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if until.tzinfo is None:
            return None
    if until <= now:
        return None
    return min(until, now + MAX_PAUSE)


def reset(webhook_ids: Iterable[int], using: str) -> None:
    """Forget what was learned (a webhook switched back on starts afresh)."""
    Pacing.objects.using(using).filter(webhook_id__in=list(webhook_ids)).delete()
