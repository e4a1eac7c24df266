"""The one place that creates events and delivery attempts.

1. :func:`record` writes :class:`Event` rows inside the caller's transaction (order signals,
   ``send_event``) and wakes the queue: a rollback takes both away, a commit makes the event
   the truth. That is all the order save pays for, whatever the number of subscribers.
   An order event keeps the order's fields; a later save of the same order in the same
   transaction brings its earlier events up to date (:func:`restate`), so each event holds
   the order as its transaction committed it, whatever happens to the order afterwards.
2. A worker then calls :func:`dispatch_pending`: it builds each event's payload from that
   state and the order's committed related rows (so items created later in the same
   transaction are in it), finds the subscribed active webhooks and writes one attempt per
   webhook in one INSERT. An event stays undispatched until that transaction commits, so a
   crashed worker or a lost wake-up only delays it.
3. Test deliveries and redeliveries create their attempt directly (:func:`send_test`,
   :func:`redeliver`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import events, payloads, queue
from .filters import compile_filter
from .models import ApiKey, DeliveryAttempt, Event, Webhook, new_event_id
from .rows import insert_fields, insert_rows, insert_sql, update_rows
from .snapshots import order_snapshot, rebuild

logger = logging.getLogger("django_webhooks")


class DeliveryRefused(Exception):
    """A test or redelivery that cannot be made (inactive webhook, one already under way)."""


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any] | None = None  # None: built from the object once the change committed
    object_model: str = ""
    object_pk: str = ""
    previous: dict[str, Any] | None = None
    state: str | None = None  # snapshots.object_state() of the saved order


def subscribed(event_types: Sequence[str], using: str = DEFAULT_DB_ALIAS) -> set[str]:
    """Which of ``event_types`` some deliverable webhook fires on.

    This runs on every order save: one query of one ``EXISTS`` per type (each stops at the
    first subscriber), its SQL built once per process.
    """
    if not event_types:
        return set()
    connection = connections[using]
    sql = _subscription_sql(connection.alias, len(event_types))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = []
    for event_type in event_types:
        params += ['%"' + event_type.replace("_", "\\_") + '"%', True, False, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return {event_type for event_type, hit in zip(event_types, row, strict=True) if hit}


@lru_cache(maxsize=32)
def _subscription_sql(alias: str, count: int) -> str:
    quote = connections[alias].ops.quote_name
    webhook, api_key = Webhook._meta, ApiKey._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    expiry = f"k.{column(api_key, 'expiry_date')}"
    exists = (
        f"EXISTS(SELECT 1 FROM {quote(webhook.db_table)} w "
        f"INNER JOIN {quote(api_key.db_table)} k "
        f"ON k.{quote(api_key.pk.column)} = w.{column(webhook, 'api_key')} "
        f"WHERE CAST(w.{column(webhook, 'events')} AS TEXT) LIKE %s ESCAPE '\\' "
        f"AND w.{column(webhook, 'is_active')} = %s AND k.{column(api_key, 'revoked')} = %s "
        f"AND ({expiry} IS NULL OR {expiry} > %s))"
    )
    return "SELECT " + ", ".join([exists] * count)


def record(
    new_events: Sequence[NewEvent], using: str = DEFAULT_DB_ALIAS
) -> list[tuple[str, datetime]]:
    """Write events in the current transaction and wake the queue for when it commits.

    Returns each event's id and creation time. Outside a transaction (autocommit) the events
    and the wake-up share one of their own. This is the order save's share of the work, so
    the row values are adapted here directly, without model instances.
    """
    if not new_events:
        return []
    connection = connections[using]
    ops = connection.ops
    now = timezone.now()
    created_at = ops.adapt_datetimefield_value(now)
    encoded: dict[int, Any] = {}  # the events of one save share their ``previous``

    def json_value(value: Any) -> Any:
        if id(value) not in encoded:
            encoded[id(value)] = _json(ops, value)
        return encoded[id(value)]

    ids, params = [], []
    for new in new_events:
        ids.append(new_event_id())
        values = {
            "id": ids[-1],
            "type": new.type,
            "created_at": created_at,
            "object_model": new.object_model,
            "object_pk": new.object_pk,
            "previous": json_value(new.previous),
            "object_state": new.state,
            "data": json_value(new.data),
            "dispatched_at": None,
        }
        params += [values[field.attname] for field in insert_fields(Event)]
    with transaction.atomic(using=using, savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(insert_sql(Event, using, len(ids)), params)
        open_transaction = _open_transaction(connection, create=True)
    for event_id, new in zip(ids, new_events, strict=True):
        if new.state is not None:
            key = (new.object_model, new.object_pk)
            open_transaction.events.setdefault(key, []).append(event_id)
    return [(event_id, now) for event_id in ids]


def events_in_open_transaction(
    object_model: str, object_pk: str, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """The ids of the events recorded for this object in the open transaction (in memory)."""
    open_transaction = _open_transaction(connections[using], create=False)
    if open_transaction is None:
        return []
    return open_transaction.events.get((object_model, object_pk), [])


def restate(event_ids: Sequence[str], state: str | None, using: str = DEFAULT_DB_ALIAS) -> None:
    """An order saved again in the same transaction: its earlier events take the newer state.

    None (the new save had deferred fields) leaves them to read the committed row.
    """
    Event.objects.using(using).filter(id__in=list(event_ids)).update(object_state=state)


@dataclass
class _OpenTransaction:
    """The order events written so far in one transaction of one connection."""

    # The transaction's wake-up, registered with on_commit: it stays in the connection's list
    # exactly as long as this transaction (or the savepoint it was made in) is alive, so a
    # commit or a rollback retires this record without a hook of ours in either.
    wake_up: Any
    events: dict[tuple[str, str], list[str]] = field(default_factory=dict)


_OPEN_TRANSACTION = "_django_webhooks_open_transaction"


def _open_transaction(connection, *, create: bool) -> _OpenTransaction | None:
    """This connection's record of its open transaction; made (with its wake-up) on demand."""
    if not connection.in_atomic_block:
        return None
    current = getattr(connection, _OPEN_TRANSACTION, None)
    if current is not None and any(
        entry[1] is current.wake_up for entry in connection.run_on_commit
    ):
        return current
    if not create:
        return None
    current = _OpenTransaction(wake_up=queue.wake_on_commit(connection.alias))
    setattr(connection, _OPEN_TRANSACTION, current)
    return current


def _json(ops, value: Any) -> Any:
    return None if value is None else ops.adapt_json_value(value, DjangoJSONEncoder)


def send_event(
    type: str,  # noqa: A002 - the public name
    data: Mapping[str, Any],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> Event | None:
    """Emit an event of a registered type; delivered after the current transaction commits.

    Returns the event, or None when no active webhook fires on this type.
    """
    if not events.is_registered(type):
        raise ValueError(f"Unknown event type {type!r}: register it with register_event() first.")
    if not isinstance(data, Mapping):
        raise TypeError(f"Event data must be a mapping, not {data.__class__.__name__}.")
    try:
        json_data = payloads.to_json_compatible(dict(data))
    except TypeError as error:
        raise TypeError(f"Event data is not JSON serializable: {error}") from error
    if not subscribed([type], using):
        return None
    ((event_id, created_at),) = record([NewEvent(type=type, data=json_data)], using=using)
    event = Event(id=event_id, type=type, created_at=created_at, data=json_data)
    event._state.adding, event._state.db = False, using
    return event


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
        if event.data is None:
            continue
        for webhook in webhooks:
            if webhook.subscribes_to(event.type):
                decision = compile_filter(webhook.filter).decide(event.data)
                if decision.deliver:
                    yield event, webhook, decision.object_override


def _build_missing_data(pending: list[Event], using: str) -> None:
    """Order events: ``data.object`` from the order as its transaction committed it.

    The order's fields come from the event's ``object_state``; an event without one (the
    order had deferred fields when saved) reads the committed row instead. A serializer that
    fails for one order must not hold the others back: that event is logged and left
    without data, so nothing is sent for it.
    """
    needs_row: dict[str, set[str]] = {}
    for event in pending:
        if event.data is None and event.object_model and event.object_state is None:
            needs_row.setdefault(event.object_model, set()).add(event.object_pk)
    committed_rows: dict[tuple[str, str], Any] = {}
    for label, pks in needs_row.items():
        for instance in apps.get_model(label)._base_manager.using(using).filter(pk__in=pks):
            committed_rows[(label, str(instance.pk))] = instance
    for event in pending:
        if event.data is not None or not event.object_model:
            continue
        if event.object_state is not None:
            instance = rebuild(apps.get_model(event.object_model), event.object_state, using)
        else:
            instance = committed_rows.get((event.object_model, event.object_pk))
        if instance is None:
            logger.info(
                "%s %s: its %s is gone; nothing to send.", event.type, event.pk, event.object_model
            )
            continue
        try:
            snapshot = order_snapshot(instance)
        except Exception:
            logger.exception(
                "Cannot serialize %s %s; event %s is not sent.",
                event.object_model,
                event.object_pk,
                event.pk,
            )
            continue
        event.data = {"object": snapshot}
        if event.previous is not None:
            event.data["previous"] = event.previous


def _skip_commit_flush(using: str) -> None:
    # The event rows this transaction completes are already durable; if a crash loses this
    # commit, they are simply dispatched again. So PostgreSQL need not wait for the WAL flush.
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


# --- attempts made on request: test, redeliver --------------------------------------------


def send_test(webhook: Webhook) -> DeliveryAttempt:
    if not webhook.is_active:
        raise DeliveryRefused(_("The webhook is inactive; reactivate it first."))
    using = webhook._state.db or DEFAULT_DB_ALIAS
    now = timezone.now()
    with transaction.atomic(using=using):
        event = Event.objects.using(using).create(
            type=events.WEBHOOK_TEST,
            created_at=now,
            dispatched_at=now,
            data={
                "object": {
                    "webhook": webhook.pk,
                    "url": webhook.url,
                    "message": "This is a test delivery from django-webhooks.",
                }
            },
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
            object_override=attempt.object_override,
        )


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
    queue.wake_on_commit(using)
    return attempt


# --- recovering failed deliveries -------------------------------------------------------------

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
    last_attempts = DeliveryAttempt.objects.using(using).in_bulk(
        [item.last_attempt_id for item in batch]
    )
    webhooks = (
        Webhook.objects.using(using)
        .filter(is_active=True)
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
                object_override=last.object_override,
            )
        )
    DeliveryAttempt.objects.using(using).bulk_create(attempts)
    if attempts:
        queue.wake_on_commit(using)
    return len(attempts)
