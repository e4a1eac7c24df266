"""Rows for tests: API keys (with a client), webhooks, events and logged attempts.

The defaults are plain; a test passes every value its assertions rely on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from django_webhooks.models import ApiKey, DeliveryAttempt, Event, Webhook, new_event_id
from tests.api_support import client_for

Status = DeliveryAttempt.Status
FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


def make_key(name: str = "Accounting", **fields: Any) -> tuple[ApiKey, APIClient]:
    """A new API key and an API client that authenticates with its token."""
    api_key, token = ApiKey.objects.create_key(name=name, **fields)
    return api_key, client_for(token)


def staff_client(client: Client, *codenames: str) -> Client:
    """``client`` logged in as a staff user with these permissions of the app."""
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="django_webhooks", codename__in=codenames)
    )
    client.force_login(user)
    return client


def make_webhook(api_key: ApiKey, **fields: Any) -> Webhook:
    fields.setdefault("url", "https://erp.example.com/hooks")
    fields.setdefault("events", ["order.created"])
    return Webhook.objects.create(api_key=api_key, **fields)


def make_event(
    event_type: str = "order.created",
    *,
    created_at: datetime | None = None,
    data: dict | None = None,
    dispatched: bool = True,
) -> Event:
    """An event, fanned out already unless ``dispatched=False``; its id is of ``created_at``."""
    moment = created_at or timezone.now()
    return Event.objects.create(
        id=new_event_id(created_at),
        type=event_type,
        created_at=moment,
        dispatched_at=moment if dispatched else None,
        data={"object": {"id": 7, "status": "paid"}} if data is None else data,
    )


def make_attempt(
    webhook: Webhook | None,
    status: str,
    *,
    event: Event | None = None,
    event_type: str = "order.created",
    number: int = 1,
    created_at: datetime | None = None,
    response_status: int | None = None,
    error: str = "",
    duration_ms: int | None = None,
    **fields: Any,
) -> DeliveryAttempt:
    """An attempt in the log; ``event`` (else a new one of ``event_type``) is its event.

    A finished attempt finished ``duration_ms`` (or no time) after ``created_at``.
    """
    event = event or make_event(event_type, created_at=created_at)
    created_at = created_at or timezone.now()
    finished = status in FINISHED
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
