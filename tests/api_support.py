"""Helpers shared by the API tests: keys with their clients, webhooks, logged attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from django_webhooks.models import ApiKey, DeliveryAttempt, Event, Webhook

API = "webhooks_api:"


def url(name: str, *args: Any) -> str:
    return reverse(API + name, args=args)


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {token}")
    return client


def make_key(name: str = "Accounting", **fields: Any) -> tuple[ApiKey, APIClient]:
    api_key, token = ApiKey.objects.create_key(name=name, **fields)
    return api_key, client_for(token)


def make_webhook(api_key: ApiKey, **fields: Any) -> Webhook:
    fields.setdefault("url", "https://erp.example.com/hooks")
    fields.setdefault("events", ["order.created"])
    return Webhook.objects.create(api_key=api_key, **fields)


def make_attempt(
    webhook: Webhook,
    *,
    status: str = DeliveryAttempt.Status.FAILED,
    event_type: str = "order.created",
    number: int = 1,
    created_at: datetime | None = None,
    event: Event | None = None,
) -> DeliveryAttempt:
    now = created_at or timezone.now()
    if event is None:
        event = Event.objects.create(
            type=event_type, created_at=now, dispatched_at=now, data={"object": {"id": 1}}
        )
    finished = status not in (DeliveryAttempt.Status.SCHEDULED, DeliveryAttempt.Status.SENDING)
    return DeliveryAttempt.objects.create(
        webhook=webhook,
        event=event,
        url=webhook.url,
        event_type=event.type,
        number=number,
        status=status,
        scheduled_for=now,
        created_at=now,
        finished_at=now if finished else None,
        response_status=500 if status == DeliveryAttempt.Status.FAILED else None,
        error="HTTP 500 is not a success." if status == DeliveryAttempt.Status.FAILED else "",
    )
