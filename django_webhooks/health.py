"""How well deliveries go, per webhook: the admin's health summary and ``webhooks_stats``.

Only attempts that reached a verdict count (succeeded or failed); cancelled and pending ones
say nothing about the receiver. Every figure is one aggregate query, whatever the traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Avg, Count, Max, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from .models import DeliveryAttempt, Webhook

Status = DeliveryAttempt.Status

#: Attempts are found through the (webhook, created_at) index; one created this much before
#: the window may still have finished inside it (a retry waits, a request takes time).
_CREATED_BEFORE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Hour:
    start: datetime
    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed


@dataclass(frozen=True)
class Health:
    """A webhook's deliveries over the last ``len(hours)`` hours, oldest hour first."""

    hours: list[Hour]
    last_failure: DeliveryAttempt | None

    @property
    def succeeded(self) -> int:
        return sum(hour.succeeded for hour in self.hours)

    @property
    def failed(self) -> int:
        return sum(hour.failed for hour in self.hours)

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        """Between 0 and 1; None when nothing was delivered or tried."""
        return self.succeeded / self.total if self.total else None


def _finished_since(
    since: datetime, prefix: str = "", statuses=(Status.SUCCEEDED, Status.FAILED)
) -> Q:
    return Q(
        **{
            f"{prefix}created_at__gte": since - _CREATED_BEFORE_WINDOW,
            f"{prefix}finished_at__gte": since,
            f"{prefix}status__in": list(statuses),
        }
    )


def webhook_health(webhook: Webhook, *, hours: int = 24, now: datetime | None = None) -> Health:
    now = now or timezone.now()
    current_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - timedelta(hours=hours - 1)
    attempts = DeliveryAttempt.objects.using(webhook._state.db or DEFAULT_DB_ALIAS).filter(
        webhook=webhook
    )
    counts: dict[tuple[datetime, str], int] = {
        (row["hour"], row["status"]): row["count"]
        for row in attempts.filter(_finished_since(first_hour))
        .annotate(hour=TruncHour("finished_at", tzinfo=UTC))
        .values("hour", "status")
        .annotate(count=Count("pk"))
        .order_by()
    }
    buckets = []
    for index in range(hours):
        start = first_hour + timedelta(hours=index)
        buckets.append(
            Hour(
                start=start,
                succeeded=counts.get((start, Status.SUCCEEDED), 0),
                failed=counts.get((start, Status.FAILED), 0),
            )
        )
    last_failure = attempts.filter(status=Status.FAILED).order_by("-created_at", "-id").first()
    return Health(hours=buckets, last_failure=last_failure)


@dataclass(frozen=True)
class WebhookStats:
    webhook: Webhook
    succeeded: int
    failed: int
    cancelled: int
    scheduled: int
    average_ms: float | None
    slowest_ms: int | None

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.total if self.total else None


def webhook_stats(webhooks: QuerySet[Webhook], since: datetime) -> list[WebhookStats]:
    """Per webhook: outcomes of the attempts finished since ``since``, and what is waiting."""

    def finished(*statuses: str) -> Q:
        return _finished_since(since, "attempts__", statuses)

    verdicts = finished(Status.SUCCEEDED, Status.FAILED)
    rows = webhooks.annotate(
        succeeded=Count("attempts", filter=finished(Status.SUCCEEDED)),
        failed=Count("attempts", filter=finished(Status.FAILED)),
        cancelled=Count("attempts", filter=finished(Status.CANCELLED)),
        scheduled=Count("attempts", filter=Q(attempts__status=Status.SCHEDULED)),
        average_ms=Avg("attempts__duration_ms", filter=verdicts),
        slowest_ms=Max("attempts__duration_ms", filter=verdicts),
    )
    return [
        WebhookStats(
            webhook=row,
            succeeded=row.succeeded,
            failed=row.failed,
            cancelled=row.cancelled,
            scheduled=row.scheduled,
            average_ms=row.average_ms,
            slowest_ms=row.slowest_ms,
        )
        for row in rows
    ]
