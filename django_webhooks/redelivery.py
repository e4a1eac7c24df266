"""Attempts someone asked for: test deliveries, redeliveries, recovering failed ones.

Called alike by the admin, the API and ``manage.py webhooks_recover``. Each makes attempts
directly (there is no new event to fan out, except the test event) and wakes the queue when
its transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import catalog, events, sources, wakeup
from .exceptions import DeliveryRefused, UnknownEventType
from .filters import compile_filter, decide_all
from .models import DeliveryAttempt, Event, Webhook


def send_test(webhook: Webhook, event_type: str = events.WEBHOOK_TEST) -> DeliveryAttempt:
    """A test delivery to ``webhook`` alone: ``webhook.test``, or the example of a catalog type.

    The example is the one ``GET /api/event-types/`` shows (a new event id, the time now), so a
    receiver can try its parser for that type on a body that validates against its schema.
    Raises UnknownEventType for a type the catalog does not have.
    """
    if event_type == events.WEBHOOK_TEST:
        data: dict[str, Any] = {
            "object": {
                "webhook": webhook.pk,
                "url": webhook.url,
                "message": "This is a test delivery from django-webhooks.",
            }
        }
    else:
        entry = catalog.entry(event_type) if isinstance(event_type, str) else None
        if entry is None:
            raise UnknownEventType(event_type)
        data = entry.example["data"]
    if not webhook.is_active:
        raise DeliveryRefused(_("The webhook is inactive; reactivate it first."))
    using = webhook._state.db or DEFAULT_DB_ALIAS
    now = timezone.now()
    with transaction.atomic(using=using):
        event = Event.objects.using(using).create(
            type=event_type, created_at=now, dispatched_at=now, data=data
        )
        attempt = _schedule(event, webhook, number=1, trigger=DeliveryAttempt.Trigger.TEST)
    return attempt


def redeliver(attempt: DeliveryAttempt) -> DeliveryAttempt:
    """A new attempt of ``attempt``'s event to its webhook, with the same ``webhook-id``."""
    webhook = attempt.webhook
    if webhook is None:
        raise DeliveryRefused(_("The webhook was deleted."))
    if not webhook.is_active:
        raise DeliveryRefused(_("The webhook is inactive; reactivate it first."))
    using = attempt._state.db or DEFAULT_DB_ALIAS
    with transaction.atomic(using=using):
        # Two redeliveries at once (a double click) take turns on the webhook's row.
        Webhook.objects.using(using).select_for_update().filter(pk=webhook.pk).exists()
        siblings = DeliveryAttempt.objects.using(using).filter(
            event_id=attempt.event_id, webhook_id=webhook.pk
        )
        if siblings.filter(
            status__in=[DeliveryAttempt.Status.SCHEDULED, DeliveryAttempt.Status.SENDING]
        ).exists():
            raise DeliveryRefused(_("A delivery of this event is already scheduled."))
        number = (siblings.aggregate(last=Max("number"))["last"] or 0) + 1
        return _schedule(
            attempt.event,
            webhook,
            number=number,
            trigger=DeliveryAttempt.Trigger.MANUAL,
            object_override=scoped_object(attempt.event, webhook, attempt.object_override),
        )


def scoped_object(
    event: Event, webhook: Webhook, first_sent: dict[str, Any] | None
) -> dict[str, Any] | None:
    """What a redelivery sends as ``data.object``: what was sent first, within today's scope.

    A redelivery repeats the first attempt's payload (``first_sent``: its object override, or
    None for the event's own object), except that the key's scope as the store sets it now
    still applies: the store may have narrowed what the key sees since.
    """
    if event.type == events.WEBHOOK_TEST or event.data is None:
        return first_sent
    source = sources.for_label(event.object_model) if event.object_model else None
    data = event.data if first_sent is None else {**event.data, "object": first_sent}
    decision = decide_all(
        [compile_filter(webhook.api_key.scope)],
        data,
        source.items_key if source else sources.ITEMS_KEY,
    )
    if not decision.deliver:
        raise DeliveryRefused(_("This event is outside what the webhook may receive now."))
    return decision.object_override if decision.object_override is not None else first_sent


def _schedule(
    event: Event,
    webhook: Webhook,
    *,
    number: int,
    trigger: str,
    object_override: Any = None,
) -> DeliveryAttempt:
    using = event._state.db or DEFAULT_DB_ALIAS
    now = timezone.now()
    attempt = DeliveryAttempt.objects.using(using).create(
        webhook=webhook,
        event=event,
        url=webhook.url,
        event_type=event.type,
        number=number,
        trigger=trigger,
        scheduled_for=now,
        created_at=now,
        object_override=object_override,
    )
    wakeup.wake_on_commit(using)
    return attempt


RECOVER_BATCH_SIZE = 500
_DELIVERED_OR_UNDER_WAY = [
    DeliveryAttempt.Status.SUCCEEDED,
    DeliveryAttempt.Status.SCHEDULED,
    DeliveryAttempt.Status.SENDING,
]


@dataclass(frozen=True)
class FailedDelivery:
    """An event one webhook never got: every attempt of it ended failed or cancelled."""

    event_id: str
    webhook_id: int
    last_attempt_id: int
    last_number: int


def failed_deliveries(
    webhooks: Iterable[Webhook],
    since: datetime,
    *,
    event_types: Sequence[str] = (),
    using: str = DEFAULT_DB_ALIAS,
) -> list[FailedDelivery]:
    """Events created since ``since`` that these active webhooks never received, oldest first.

    An event with an attempt still scheduled or sending is on its way, not failed.
    """
    webhook_ids = [webhook.pk for webhook in webhooks if webhook.is_active]
    attempts = DeliveryAttempt.objects.using(using).filter(
        webhook_id__in=webhook_ids, event__created_at__gte=since
    )
    if event_types:
        attempts = attempts.filter(event_type__in=list(event_types))
    rows = (
        attempts.values("event_id", "webhook_id")
        .annotate(
            last_attempt_id=Max("pk"),
            last_number=Max("number"),
            delivered_or_open=Count("pk", filter=Q(status__in=_DELIVERED_OR_UNDER_WAY)),
        )
        .filter(delivered_or_open=0)
        .order_by("event_id", "webhook_id")
    )
    return [
        FailedDelivery(
            event_id=row["event_id"],
            webhook_id=row["webhook_id"],
            last_attempt_id=row["last_attempt_id"],
            last_number=row["last_number"],
        )
        for row in rows
    ]


def recover_failed(
    failed: Sequence[FailedDelivery],
    *,
    using: str = DEFAULT_DB_ALIAS,
    batch_size: int = RECOVER_BATCH_SIZE,
    progress: Any = None,
) -> int:
    """Schedule one new attempt for each failed delivery; returns how many were scheduled.

    Like :func:`redeliver` (same event id, the next number, the attempt's own payload), but in
    batches: one transaction and one wake-up per batch, so recovering a day of an outage
    neither holds a long lock nor floods the queue. ``progress(done, total)`` is called after
    each batch.
    """
    scheduled = 0
    for start in range(0, len(failed), batch_size):
        batch = failed[start : start + batch_size]
        with transaction.atomic(using=using):
            scheduled += _recover_batch(batch, using)
        if progress is not None:
            progress(min(start + batch_size, len(failed)), len(failed))
    return scheduled


def _recover_batch(batch: Sequence[FailedDelivery], using: str) -> int:
    last_attempts = (
        DeliveryAttempt.objects.using(using)
        .select_related("event")
        .in_bulk([item.last_attempt_id for item in batch])
    )
    webhooks = (
        Webhook.objects.using(using)
        .filter(is_active=True)
        .select_related("api_key")
        .in_bulk({item.webhook_id for item in batch})
    )
    # A redelivery may have started since the list was made: leave those pairs alone.
    busy = set(
        DeliveryAttempt.objects.using(using)
        .filter(
            event_id__in={item.event_id for item in batch},
            webhook_id__in=webhooks,
            status__in=_DELIVERED_OR_UNDER_WAY,
        )
        .values_list("event_id", "webhook_id")
    )
    now = timezone.now()
    attempts = []
    for item in batch:
        webhook = webhooks.get(item.webhook_id)
        last = last_attempts.get(item.last_attempt_id)
        if webhook is None or last is None or (item.event_id, item.webhook_id) in busy:
            continue
        try:
            override = scoped_object(last.event, webhook, last.object_override)
        except DeliveryRefused:
            continue
        attempts.append(
            DeliveryAttempt(
                webhook=webhook,
                event_id=item.event_id,
                url=webhook.url,
                event_type=last.event_type,
                number=item.last_number + 1,
                trigger=DeliveryAttempt.Trigger.MANUAL,
                scheduled_for=now,
                created_at=now,
                object_override=override,
            )
        )
    DeliveryAttempt.objects.using(using).bulk_create(attempts)
    if attempts:
        wakeup.wake_on_commit(using)
    return len(attempts)
