"""The transactional outbox: events written in the transaction that caused them.

:func:`record_events` writes :class:`~django_webhooks.models.Event` rows inside the caller's
transaction (model signals, ``send_event``) and wakes the queue for when it commits: a
rollback takes both away, a commit makes the event the truth. That is all a save pays for,
whatever the number of subscribers. An event of a tracked object keeps the object's fields;
a later save of the same object in the same transaction brings its earlier events up to date
(:func:`restate`), so each event holds the object as its transaction committed it.

A worker then fans the events out to their webhooks (:mod:`django_webhooks.worker.dispatch`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from .. import events, object_sequences, payloads, sources, wakeup
from ..ids import new_event_id
from ..models import Event
from ..observability import tracing
from ..rows import column, insert_fields, insert_head, insert_sql
from ..snapshots import object_state
from .subscriptions import subscribed


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any] | None = None  # None: built from the object once the change committed
    object_model: str = ""
    object_pk: str = ""
    previous: dict[str, Any] | None = None
    state: str | None = None  # snapshots.object_state() of the saved order


class Recorded(NamedTuple):
    id: str
    created_at: datetime
    sequence: int | None  # per object (object_sequences.py); None: no object


def record_events(new_events: Sequence[NewEvent], using: str = DEFAULT_DB_ALIAS) -> list[Recorded]:
    """Write events in the current transaction and wake the queue for when it commits.

    Returns each event's id, creation time and sequence number. Outside a transaction
    (autocommit) the events and the wake-up share one of their own. This is the order save's
    share of the work, so the row values are adapted here directly, without model instances:
    one statement advances the objects' counters, one inserts the events (on PostgreSQL both
    are one statement).
    """
    if not new_events:
        return []
    with tracing.recording(new_events) as traceparent:
        return _write(new_events, using, traceparent)


def _write(new_events: Sequence[NewEvent], using: str, traceparent: str | None) -> list[Recorded]:
    connection = connections[using]
    ops = connection.ops
    now = timezone.now()
    created_at = ops.adapt_datetimefield_value(now)
    encoded: dict[int, Any] = {}  # the events of one save share their ``previous``

    def json_value(value: Any) -> Any:
        if id(value) not in encoded:
            encoded[id(value)] = _json(ops, value)
        return encoded[id(value)]

    ids = [new_event_id() for _new in new_events]
    added = Counter((new.object_model, new.object_pk) for new in new_events if new.object_model)
    with transaction.atomic(using=using, savepoint=False):
        if added and object_sequences.fold_into_insert(connection, len(new_events)):
            numbers = _insert_counted(
                ids, new_events, added, created_at, traceparent, json_value, using
            )
        else:
            numbers = _numbers(new_events, added, using)
            params = []
            for event_id, new, number in zip(ids, new_events, numbers, strict=True):
                params += _row(event_id, new, number, created_at, traceparent, json_value)
            with connection.cursor() as cursor:
                cursor.execute(insert_sql(Event, using, len(ids)), params)
        open_transaction = _open_transaction(connection, create=True)
    assert open_transaction is not None  # made inside the atomic block above
    for event_id, new in zip(ids, new_events, strict=True):
        if new.object_model:
            key = (new.object_model, new.object_pk)
            open_transaction.events.setdefault(key, []).append(event_id)
    return [Recorded(i, now, number) for i, number in zip(ids, numbers, strict=True)]


def _numbers(
    new_events: Sequence[NewEvent], added: Mapping[tuple[str, str], int], using: str
) -> list[int | None]:
    """Each event's number for its object, in recording order (one statement for the batch)."""
    last = object_sequences.advance(added, using)
    following = {key: last[key] - count + 1 for key, count in added.items()}
    numbers: list[int | None] = []
    for new in new_events:
        if not new.object_model:
            numbers.append(None)
            continue
        key = (new.object_model, new.object_pk)
        numbers.append(following[key])
        following[key] += 1
    return numbers


def _insert_counted(
    ids: list[str],
    new_events: Sequence[NewEvent],
    added: Mapping[tuple[str, str], int],
    created_at: Any,
    traceparent: str | None,
    json_value: Any,
    using: str,
) -> list[int | None]:
    """The counters' upsert and the events' insert as one statement; the events' numbers."""
    params = object_sequences.counter_params(added)
    following = dict(added)  # of each object's events, how many are still to come
    for event_id, new in zip(ids, new_events, strict=True):
        row = _row(event_id, new, None, created_at, traceparent, json_value)
        if new.object_model:
            key = (new.object_model, new.object_pk)
            following[key] -= 1
            at = _SEQUENCE_INDEX
            row[at : at + 1] = [new.object_model, new.object_pk, following[key]]
        params += row
    shape = tuple(bool(new.object_model) for new in new_events)
    with connections[using].cursor() as cursor:
        cursor.execute(_counted_insert_sql(using, len(added), shape), params)
        numbers = dict(cursor.fetchall())
    return [numbers[event_id] for event_id in ids]


_SEQUENCE_INDEX = next(
    index for index, field in enumerate(insert_fields(Event)) if field.attname == "sequence"
)


@lru_cache(maxsize=64)
def _counted_insert_sql(using: str, counters: int, numbered: tuple[bool, ...]) -> str:
    """The events' INSERT after the counters' upsert; ``numbered``: which rows have an object."""
    quote = connections[using].ops.quote_name
    placeholders = ["%s"] * len(insert_fields(Event))
    plain = "(" + ", ".join(placeholders) + ")"
    placeholders[_SEQUENCE_INDEX] = object_sequences.number_sql(using)
    counted = "(" + ", ".join(placeholders) + ")"
    values = ", ".join(counted if has_object else plain for has_object in numbered)
    insert = (
        insert_head(Event, using)
        + values
        + f" RETURNING {quote(column(Event, 'id'))}, {quote(column(Event, 'sequence'))}"
    )
    return object_sequences.counted_sql(using, counters, insert)


def _row(
    event_id: str,
    new: NewEvent,
    number: int | None,
    created_at: Any,
    traceparent: str | None,
    json_value: Any,
) -> list[Any]:
    values = {
        "id": event_id,
        "type": new.type,
        "created_at": created_at,
        "object_model": new.object_model,
        "object_pk": new.object_pk,
        "sequence": number,
        "previous": json_value(new.previous),
        "object_state": new.state,
        "data": json_value(new.data),
        "dispatched_at": None,
        "traceparent": traceparent,
    }
    return [values[field.attname] for field in insert_fields(Event)]


def events_in_open_transaction(
    object_model: str, object_pk: str, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """The ids of the events recorded for this object in the open transaction (in memory)."""
    open_transaction = _open_transaction(connections[using], create=False)
    if open_transaction is None:
        return []
    return open_transaction.events.get((object_model, object_pk), [])


def restate(event_ids: Sequence[str], state: str | None, using: str = DEFAULT_DB_ALIAS) -> None:
    """An object saved again in the same transaction: its earlier events take the newer state.

    None (the new save had deferred fields) leaves them to read the committed row. Events
    whose object was rendered when they were recorded (deletes) keep it.
    """
    Event.objects.using(using).filter(id__in=list(event_ids), data__isnull=True).update(
        object_state=state
    )


def drop_events(event_ids: Sequence[str], using: str = DEFAULT_DB_ALIAS) -> None:
    """Take back events of the open transaction (a value changed, then changed back).

    Their numbers are given back too, and the object's later events of this transaction
    move down, so that receivers see no gap where nothing was missed.
    """
    if not event_ids:
        return
    dropped = Event.objects.using(using).filter(id__in=list(event_ids), dispatched_at=None)
    numbered = list(
        dropped.filter(sequence__isnull=False).values_list("object_model", "object_pk", "sequence")
    )
    dropped.delete()
    by_object: dict[tuple[str, str], list[int]] = {}
    for object_model, object_pk, number in numbered:
        if number is not None:  # filtered above; for the type checker
            by_object.setdefault((object_model, object_pk), []).append(number)
    for (object_model, object_pk), numbers in by_object.items():
        # This transaction holds the object's counter since it recorded the first of these,
        # so every later number of the object is one of its own events.
        below = sum(
            (Case(When(sequence__gt=n, then=Value(1)), default=Value(0)) for n in numbers),
            Value(0),
        )
        Event.objects.using(using).filter(
            id__in=events_in_open_transaction(object_model, object_pk, using),
            sequence__gt=min(numbers),
        ).update(sequence=F("sequence") - below)
    object_sequences.withdraw({key: len(numbers) for key, numbers in by_object.items()}, using)


@dataclass
class _OpenTransaction:
    """The order events written so far in one transaction of one connection."""

    # The transaction's wake-up, registered with on_commit: it stays in the connection's list
    # exactly as long as this transaction (or the savepoint it was made in) is alive, so a
    # commit or a rollback retires this record without a hook of ours in either.
    wake_up: Any
    events: dict[tuple[str, str], list[str]] = field(default_factory=dict)


_OPEN_TRANSACTION = "_django_webhooks_open_transaction"


def _open_transaction(connection: Any, *, create: bool) -> _OpenTransaction | None:
    """This connection's record of its open transaction; made (with its wake-up) on demand."""
    if not connection.in_atomic_block:
        return None
    current: _OpenTransaction | None = getattr(connection, _OPEN_TRANSACTION, None)
    if current is not None and any(
        entry[1] is current.wake_up for entry in connection.run_on_commit
    ):
        return current
    if not create:
        return None
    current = _OpenTransaction(wake_up=wakeup.wake_on_commit(connection.alias))
    setattr(connection, _OPEN_TRANSACTION, current)
    return current


def _json(ops: Any, value: Any) -> Any:
    return None if value is None else ops.adapt_json_value(value, DjangoJSONEncoder)


def send_event(
    type: str,  # noqa: A002 - the public name
    data: Mapping[str, Any] | None = None,
    *,
    instance: models.Model | None = None,
    using: str | None = None,
) -> Event | None:
    """Emit an event of a registered type; delivered after the current transaction commits.

    With ``instance`` (an object of an event source), ``data.object`` is that object as its
    source's serializer renders it from the committed rows, built by the worker like the
    built-in events' (and item filters apply); ``data`` then adds keys beside ``object``.
    Returns the event, or None when no active webhook fires on this type.
    """
    if not events.is_registered(type):
        raise ValueError(f"Unknown event type {type!r}: register it with register_event() first.")
    if data is not None and not isinstance(data, Mapping):
        raise TypeError(f"Event data must be a mapping, not {data.__class__.__name__}.")
    if data is None and instance is None:
        raise TypeError("send_event() needs data, an instance, or both.")
    try:
        json_data = payloads.to_json_compatible(dict(data)) if data is not None else None
    except TypeError as error:
        raise TypeError(f"Event data is not JSON serializable: {error}") from error
    new = NewEvent(type=type, data=json_data)
    if instance is not None:
        new = _about(instance, new)
        using = using or instance._state.db
    using = using or DEFAULT_DB_ALIAS
    if not subscribed([type], using):
        return None
    ((event_id, created_at, sequence),) = record_events([new], using=using)
    event = Event(
        id=event_id,
        type=type,
        created_at=created_at,
        sequence=sequence,
        data=new.data,
        object_model=new.object_model,
        object_pk=new.object_pk,
        object_state=new.state,
    )
    event._state.adding, event._state.db = False, using
    return event


def _about(instance: models.Model, new: NewEvent) -> NewEvent:
    """``new`` about ``instance``: its object rendered by the worker from the committed row."""
    source = sources.for_model(type(instance))
    if source is None:
        raise ValueError(
            f"{instance._meta.label} is not an event source: add it to WEBHOOKS['SOURCES'] "
            "or pass its data yourself."
        )
    if instance.pk is None:
        raise ValueError(
            f"Save the {instance._meta.verbose_name} before sending an event about it."
        )
    if new.data is not None and "object" in new.data:
        raise TypeError("Give either data['object'] or instance, not both.")
    # The row as loaded or last saved, if the instance holds no unsaved change; else the worker
    # reads the committed row.
    loaded = instance.__dict__.get(sources.LOADED, {})
    clean = all(
        name in loaded and loaded[name] == getattr(instance, name)
        for name in source.remembered_attnames
    )
    return replace(
        new,
        object_model=source.label,
        object_pk=str(instance.pk),
        state=object_state(instance) if clean else None,
    )
