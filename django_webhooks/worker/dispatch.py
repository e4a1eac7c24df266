"""Fan-out: each new event becomes one attempt per webhook that gets it.

The payload is built here, by a worker, from the object as its transaction committed it and
the object's committed related rows (so order items created later in the same transaction
are in it); each webhook's filter then decides whether it gets the event and which lines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from .. import sources
from ..filters import compile_filter
from ..models import DeliveryAttempt, Event, Webhook
from ..rows import insert_rows, update_rows
from ..snapshots import object_snapshot as snapshot_of
from ..snapshots import rebuild

logger = logging.getLogger("django_webhooks")


def dispatch_pending(using: str = DEFAULT_DB_ALIAS, limit: int = 200) -> int:
    """Fan undispatched events out to their subscribers; returns how many attempts were made.

    Concurrent workers skip each other's events (``SKIP LOCKED``; SQLite serialises), and an
    event is marked dispatched in the same transaction as its attempts: no event is fanned
    out twice, none is lost.
    """
    now = timezone.now()
    with transaction.atomic(using=using):
        _skip_commit_flush(using)
        pending = list(
            Event.objects.using(using)
            .select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("created_at")[:limit]
        )
        if not pending:
            return 0
        _build_missing_data(pending, using)
        webhooks = list(
            Webhook.objects.using(using)
            .deliverable()
            .only("id", "url", "events", "filter", "api_key_id")
        )
        attempts = [
            DeliveryAttempt(
                webhook=webhook,
                event=event,
                url=webhook.url,
                event_type=event.type,
                number=1,
                trigger=DeliveryAttempt.Trigger.EVENT,
                scheduled_for=now,
                created_at=now,
                object_override=object_override,
            )
            for event, webhook, object_override in _fan_out(pending, webhooks)
        ]
        for event in pending:
            event.dispatched_at = now
        insert_rows(DeliveryAttempt, attempts, using)
        update_rows(Event, pending, ["data", "dispatched_at"], using)
    return len(attempts)


def _fan_out(
    pending: Sequence[Event], webhooks: Sequence[Webhook]
) -> Iterator[tuple[Event, Webhook, dict | None]]:
    """Each (event, webhook) that gets a delivery, with the object the webhook's filter left."""
    for event in pending:
        if not _ready(event):
            continue
        source = sources.for_label(event.object_model) if event.object_model else None
        items_key = source.items_key if source else sources.ITEMS_KEY
        for webhook in webhooks:
            if webhook.subscribes_to(event.type):
                decision = compile_filter(webhook.filter).decide(event.data, items_key)
                if decision.deliver:
                    yield event, webhook, decision.object_override


def _ready(event: Event) -> bool:
    return event.data is not None and (not event.object_model or "object" in event.data)


def _build_missing_data(pending: list[Event], using: str) -> None:
    """Events about an object: ``data.object`` from the object as its transaction committed it.

    The object's fields come from the event's ``object_state``; an event without one (the
    object had deferred fields when saved, or ``send_event`` was given a changed instance)
    reads the committed row instead. A serializer that fails for one object must not hold the
    others back: that event is logged and left without data, so nothing is sent for it.
    """
    unbuilt = [event for event in pending if event.object_model and not _ready(event)]
    needs_row: dict[str, set[str]] = {}
    for event in unbuilt:
        if event.object_state is None:
            needs_row.setdefault(event.object_model, set()).add(event.object_pk)
    committed_rows: dict[tuple[str, str], Any] = {}
    for label, pks in needs_row.items():
        for instance in apps.get_model(label)._base_manager.using(using).filter(pk__in=pks):
            committed_rows[(label, str(instance.pk))] = instance
    for event in unbuilt:
        source = sources.for_label(event.object_model)
        if source is None:
            logger.warning(
                "%s %s: %s is no longer an event source; nothing to send.",
                event.type,
                event.pk,
                event.object_model,
            )
            continue
        if event.object_state is not None:
            instance = rebuild(source.model, event.object_state, using)
        else:
            instance = committed_rows.get((event.object_model, event.object_pk))
        if instance is None:
            logger.info(
                "%s %s: its %s is gone; nothing to send.", event.type, event.pk, event.object_model
            )
            continue
        try:
            snapshot = snapshot_of(instance)
        except Exception:
            logger.exception(
                "Cannot serialize %s %s; event %s is not sent.",
                event.object_model,
                event.object_pk,
                event.pk,
            )
            continue
        data: dict[str, Any] = {"object": snapshot}
        if event.previous is not None:
            data["previous"] = event.previous
        event.data = {**data, **(event.data or {})}


def _skip_commit_flush(using: str) -> None:
    # The event rows this transaction completes are already durable; if a crash loses this
    # commit, they are simply dispatched again. So PostgreSQL need not wait for the WAL flush.
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
