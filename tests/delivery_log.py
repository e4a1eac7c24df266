"""Rows of the delivery log in any state, for tests of what reads it (admin, commands)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from django_webhooks.models import DeliveryAttempt, Event, Webhook, new_event_id

Status = DeliveryAttempt.Status


def make_event(
    event_type: str = "order.created",
    *,
    created_at: datetime | None = None,
    data: dict | None = None,
    dispatched: bool = True,
) -> Event:
    created_at = created_at or timezone.now()
    return Event.objects.create(
        id=new_event_id(created_at),
        type=event_type,
        created_at=created_at,
        dispatched_at=created_at if dispatched else None,
        data={"object": {"id": 7, "status": "paid"}} if data is None else data,
    )


def make_attempt(
    webhook: Webhook | None,
    status: str = Status.SUCCEEDED,
    *,
    event: Event | None = None,
    number: int = 1,
    created_at: datetime | None = None,
    response_status: int | None = None,
    error: str = "",
    duration_ms: int | None = 42,
    **fields,
) -> DeliveryAttempt:
    event = event or make_event(created_at=created_at)
    created_at = created_at or timezone.now()
    finished = status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    if response_status is None and status == Status.SUCCEEDED:
        response_status = 200
    return DeliveryAttempt.objects.create(
        webhook=webhook,
        event=event,
        url=webhook.url if webhook else "https://gone.example/",
        event_type=event.type,
        number=number,
        status=status,
        scheduled_for=created_at,
        created_at=created_at,
        finished_at=created_at + timedelta(milliseconds=duration_ms or 0) if finished else None,
        response_status=response_status,
        duration_ms=duration_ms if finished else None,
        error=error,
        **fields,
    )
