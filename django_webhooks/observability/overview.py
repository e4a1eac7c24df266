"""The admin overview's figures: the whole store's last 24 hours, and what needs a look.

Each is one query: the hours and the failing webhooks read the attempts of the window only
(``attempt_created_idx`` on created_at, as the webhook page does), the backlog its partial
indexes (:mod:`.backlog`), the switched-off webhooks the small webhook table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from ..health import Health, Hour, finished_since
from ..models import DeliveryAttempt, Webhook
from .backlog import Backlog, backlog

Status = DeliveryAttempt.Status

FAILING_SHOWN = 5
SWITCHED_OFF_SHOWN = 10


@dataclass(frozen=True)
class Failing:
    webhook: Webhook
    failed: int
    succeeded: int

    @property
    def success_rate(self) -> float:
        return self.succeeded / (self.succeeded + self.failed)


@dataclass(frozen=True)
class Overview:
    health: Health
    backlog: Backlog
    failing: list[Failing]
    switched_off: list[Webhook]


def overview(using: str, *, hours: int = 24, now: datetime | None = None) -> Overview:
    now = now or timezone.now()
    current_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - timedelta(hours=hours - 1)
    window = DeliveryAttempt.objects.using(using).filter(finished_since(first_hour))
    counts = {
        (row["hour"], row["status"]): row["count"]
        for row in window.annotate(hour=TruncHour("finished_at", tzinfo=UTC))
        .values("hour", "status")
        .annotate(count=Count("pk"))
        .order_by()
    }
    hours_ = [
        Hour(
            start=start,
            succeeded=counts.get((start, Status.SUCCEEDED), 0),
            failed=counts.get((start, Status.FAILED), 0),
        )
        for start in (first_hour + timedelta(hours=index) for index in range(hours))
    ]
    worst = list(
        window.filter(webhook__isnull=False)
        .values("webhook_id")
        .annotate(
            failed=Count("pk", filter=Q(status=Status.FAILED)),
            succeeded=Count("pk", filter=Q(status=Status.SUCCEEDED)),
        )
        .filter(failed__gt=0)
        .order_by("-failed", "webhook_id")[:FAILING_SHOWN]
    )
    webhooks = Webhook.objects.using(using).select_related("api_key").order_by()
    by_id = webhooks.in_bulk([row["webhook_id"] for row in worst])
    failing = [
        Failing(by_id[row["webhook_id"]], row["failed"], row["succeeded"])
        for row in worst
        if row["webhook_id"] in by_id
    ]
    switched_off = list(
        webhooks.filter(is_active=False).order_by("-updated_at", "-id")[:SWITCHED_OFF_SHOWN]
    )
    return Overview(
        health=Health(hours=hours_, last_failure=None),
        backlog=backlog(using, now),
        failing=failing,
        switched_off=switched_off,
    )
