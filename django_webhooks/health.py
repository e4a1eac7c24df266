"""How well deliveries go, per webhook: the admin's health summary and ``webhooks_stats``.

Only attempts that reached a verdict count (succeeded or failed); cancelled and pending ones
say nothing about the receiver. Every figure is one aggregate query, whatever the traffic.
Beside them, the engine's pace for each webhook now: its learned limit, what is in flight,
and a pause a receiver asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Avg, Count, Max, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from .conf import webhook_settings
from .models import DeliveryAttempt, Pacing, Webhook
from .pacing import INITIAL_LIMIT

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
class Pace:
    """How fast the engine sends to a webhook now (:mod:`django_webhooks.pacing`)."""

    limit: float
    ceiling: int
    in_flight: int
    paused_until: datetime | None

    @property
    def shown_limit(self) -> int:
        return max(1, min(int(self.limit), self.ceiling))


def paces(webhook_ids: Sequence[int], *, using: str = DEFAULT_DB_ALIAS) -> dict[int, Pace]:
    """Each webhook's learned limit, its requests in flight (every worker) and its pause."""
    now = timezone.now()
    learned = {
        row.webhook_id: row
        for row in Pacing.objects.using(using).filter(webhook_id__in=webhook_ids)
    }
    in_flight = dict(
        DeliveryAttempt.objects.using(using)
        .filter(webhook_id__in=webhook_ids, status=Status.SENDING)
        .values("webhook_id")
        .annotate(count=Count("pk"))
        .values_list("webhook_id", "count")
        .order_by()
    )
    ceiling = max(webhook_settings.CONCURRENCY_PER_WEBHOOK, 1)
    shown = {}
    for webhook_id in webhook_ids:
        row = learned.get(webhook_id)
        shown[webhook_id] = Pace(
            limit=INITIAL_LIMIT if row is None else row.limit,
            ceiling=ceiling,
            in_flight=in_flight.get(webhook_id, 0),
            paused_until=row.paused_until if row is not None and row.is_paused(now) else None,
        )
    return shown


@dataclass(frozen=True)
class Health:
    """A webhook's deliveries over the last ``len(hours)`` hours, oldest hour first."""

    hours: list[Hour]
    last_failure: DeliveryAttempt | None
    pace: Pace | None = None

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


def finished_since(
    since: datetime, statuses: Sequence[str] = (Status.SUCCEEDED, Status.FAILED)
) -> Q:
    return Q(
        created_at__gte=since - _CREATED_BEFORE_WINDOW,
        finished_at__gte=since,
        status__in=list(statuses),
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
        for row in attempts.filter(finished_since(first_hour))
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
    # Within the window too: a busy, healthy webhook must not cost a scan of its whole log.
    last_failure = (
        attempts.filter(finished_since(first_hour, [Status.FAILED]))
        .order_by("-created_at", "-id")
        .first()
    )
    using = webhook._state.db or DEFAULT_DB_ALIAS
    return Health(
        hours=buckets, last_failure=last_failure, pace=paces([webhook.pk], using=using)[webhook.pk]
    )


@dataclass(frozen=True)
class WebhookStats:
    webhook: Webhook
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    scheduled: int = 0
    average_ms: float | None = None
    slowest_ms: int | None = None
    pace: Pace | None = None

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.total if self.total else None


def webhook_stats(webhooks: QuerySet[Webhook], since: datetime) -> list[WebhookStats]:
    """Per webhook: outcomes of the attempts finished since ``since``, and what is waiting.

    Two grouped queries over the log, each bounded by an index (the window by ``created_at``,
    the waiting ones by the partial index on scheduled attempts), whatever the log's size.
    """
    listed = list(webhooks)
    ids = [webhook.pk for webhook in listed]
    log = DeliveryAttempt.objects.filter(webhook_id__in=ids)
    verdicts = Q(status__in=[Status.SUCCEEDED, Status.FAILED])
    finished: dict[int, Mapping[str, Any]] = {
        row["webhook_id"]: row
        for row in log.filter(
            finished_since(since, [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED])
        )
        .values("webhook_id")
        .annotate(
            succeeded=Count("pk", filter=Q(status=Status.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=Status.FAILED)),
            cancelled=Count("pk", filter=Q(status=Status.CANCELLED)),
            average_ms=Avg("duration_ms", filter=verdicts),
            slowest_ms=Max("duration_ms", filter=verdicts),
        )
        .order_by()
    }
    waiting = dict(
        log.filter(status=Status.SCHEDULED)
        .values("webhook_id")
        .annotate(count=Count("pk"))
        .values_list("webhook_id", "count")
        .order_by()
    )
    pace = paces(ids)
    stats = []
    for webhook in listed:
        row = finished.get(webhook.pk, {})
        stats.append(
            WebhookStats(
                webhook=webhook,
                succeeded=row.get("succeeded", 0),
                failed=row.get("failed", 0),
                cancelled=row.get("cancelled", 0),
                scheduled=waiting.get(webhook.pk, 0),
                average_ms=row.get("average_ms"),
                slowest_ms=row.get("slowest_ms"),
                pace=pace[webhook.pk],
            )
        )
    return stats
