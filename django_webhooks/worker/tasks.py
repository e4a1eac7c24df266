"""The django-q2 tasks: deliver what is due, sweep what a crash left behind.

Enqueued by :mod:`django_webhooks.wakeup` by dotted path (and the sweeper, every minute, by a
django-q2 schedule as a safety net beside the ticker). The three queries below are what the
ticker and the sweeper ask the database on every look; they are public so that the benchmark
(bench/scale.py, P6) can time them against a large table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from .. import wakeup
from ..models import DeliveryAttempt, Event, Pacing
from ..timing import UNCLAIMED_AFTER_SECONDS
from .engine import run
from .leases import release_lost_claims


def deliver(using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Dispatch new events and deliver what is due (:mod:`.engine`)."""
    stats = run(using=using, wake=wakeup.wake)
    return {"claimed": stats.claimed, "sent": stats.sent, "succeeded": stats.succeeded}


def sweep(using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Recover what a crash or a lost wake-up left behind: dead leases, unclaimed work."""
    now = timezone.now()
    released = release_lost_claims(using=using, now=now)
    # Not an EXISTS: PostgreSQL estimates status and scheduled_for independently, expects
    # many due rows and scans the table for one; ordered by scheduled_for it reads the
    # partial index attempt_due_idx from its due end.
    due = newest_due(using, now) is not None
    stale = now - timedelta(seconds=UNCLAIMED_AFTER_SECONDS)
    undispatched = Event.objects.using(using).filter(
        dispatched_at__isnull=True, created_at__lt=stale
    )
    woke = (released > 0 or due or undispatched.exists()) and wakeup.wake(using=using)
    return {"released": released, "woke": woke}


def newest_due(using: str = DEFAULT_DB_ALIAS, now: datetime | None = None) -> datetime | None:
    """When the most recently due scheduled attempt fell due, or None if none is due."""
    return (
        DeliveryAttempt.objects.using(using)
        .filter(status=DeliveryAttempt.Status.SCHEDULED, scheduled_for__lte=now or timezone.now())
        .order_by("-scheduled_for")
        .values_list("scheduled_for", flat=True)
        .first()
    )


def newest_undispatched(using: str = DEFAULT_DB_ALIAS) -> datetime | None:
    """When the newest event not fanned out yet was written, or None."""
    return (
        Event.objects.using(using)
        .filter(dispatched_at__isnull=True)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def next_due(using: str = DEFAULT_DB_ALIAS, now: datetime | None = None) -> datetime | None:
    """When the next scheduled attempt falls due (after ``now``), or None."""
    return (
        DeliveryAttempt.objects.using(using)
        .filter(status=DeliveryAttempt.Status.SCHEDULED, scheduled_for__gt=now or timezone.now())
        .order_by("scheduled_for")
        .values_list("scheduled_for", flat=True)
        .first()
    )


#: Pauses that ended longer ago than this no longer wake anything.
RECENT_PAUSE = timedelta(minutes=1)


def pause_ends(using: str = DEFAULT_DB_ALIAS, now: datetime | None = None) -> list[datetime]:
    """When the webhooks' recent and coming pauses end (a receiver's Retry-After, pacing):
    the attempts waiting for one fall due again then."""
    now = now or timezone.now()
    ends = (
        Pacing.objects.using(using)
        .filter(paused_until__gt=now - RECENT_PAUSE)
        .values_list("paused_until", flat=True)
    )
    return [end for end in ends if end is not None]
