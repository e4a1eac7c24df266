"""What is waiting, for every worker together: each figure one query on a partial index.

The partial indexes hold only the rows they are about (``attempt_due_idx``: scheduled
attempts, ``attempt_lease_idx``: attempts being sent, ``event_undispatched_idx``: events not
fanned out yet), so these queries read the waiting rows and never the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min
from django.utils import timezone

from ..models import DeliveryAttempt, Event, Webhook

Status = DeliveryAttempt.Status


@dataclass(frozen=True)
class Backlog:
    due: int
    oldest_due: datetime | None
    sending: int
    undispatched: int
    oldest_undispatched: datetime | None
    active_webhooks: int
    inactive_webhooks: int
    at: datetime

    def age(self, moment: datetime | None) -> float:
        """Seconds since ``moment`` (0 when there is none)."""
        return max((self.at - moment).total_seconds(), 0.0) if moment else 0.0


def backlog(using: str, now: datetime | None = None) -> Backlog:
    now = now or timezone.now()
    due = (
        DeliveryAttempt.objects.using(using)
        .filter(status=Status.SCHEDULED, scheduled_for__lte=now)
        .order_by()
        .aggregate(count=Count("pk"), oldest=Min("scheduled_for"))
    )
    sending = (
        DeliveryAttempt.objects.using(using)
        .filter(status=Status.SENDING, lease_expires_at__isnull=False)
        .order_by()
        .count()
    )
    undispatched = (
        Event.objects.using(using)
        .filter(dispatched_at__isnull=True)
        .order_by()
        .aggregate(count=Count("pk"), oldest=Min("created_at"))
    )
    webhooks = dict(
        Webhook.objects.using(using)
        .order_by()
        .values("is_active")
        .annotate(count=Count("pk"))
        .values_list("is_active", "count")
    )
    return Backlog(
        due=due["count"],
        oldest_due=due["oldest"],
        sending=sending,
        undispatched=undispatched["count"],
        oldest_undispatched=undispatched["oldest"],
        active_webhooks=webhooks.get(True, 0),
        inactive_webhooks=webhooks.get(False, 0),
        at=now,
    )
