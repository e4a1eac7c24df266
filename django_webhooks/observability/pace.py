"""The engine's pace now, for ``GET /metrics``: each webhook's learned limit, its requests in
flight (every worker), and how many webhooks a receiver paused (:mod:`django_webhooks.pacing`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from ..conf import webhook_settings
from ..models import DeliveryAttempt, Pacing


@dataclass(frozen=True)
class PaceNow:
    limits: dict[int, int]
    in_flight: dict[int, int]
    paused: int


def read(using: str) -> PaceNow:
    """Two queries: the pacing rows (one per webhook sent to), the in-flight attempts."""
    now = timezone.now()
    ceiling = max(webhook_settings.CONCURRENCY_PER_WEBHOOK, 1)
    limits, paused = {}, 0
    for row in Pacing.objects.using(using).only("limit", "paused_until"):
        limits[row.webhook_id] = min(row.slots, ceiling)
        paused += row.is_paused(now)
    in_flight = dict(
        DeliveryAttempt.objects.using(using)
        .filter(status=DeliveryAttempt.Status.SENDING, webhook__isnull=False)
        .values("webhook_id")
        .annotate(count=Count("pk"))
        .values_list("webhook_id", "count")
        .order_by()
    )
    return PaceNow(limits=limits, in_flight=in_flight, paused=paused)
