"""Set-based writes that still fire events: ``update()`` and ``bulk_saved()``.

Django sends no signals for ``QuerySet.update()``, ``bulk_create()`` or ``bulk_update()``, so
the trackers never see those rows change. These two fire what saving each changed row one by
one would fire (``updated``, the status types, with ``previous``), written in the same
transaction as the rows, in a constant number of queries however many rows there are.
Status values that are properties or methods are read on fresh instances, one per row: their
cost is the store's own properties'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, models, router, transaction

from .. import sources
from ..snapshots import object_state, rebuild
from ..sources import LOADED, Source
from . import outbox
from .subscriptions import subscribed
from .tracking import changes


def update(queryset: models.QuerySet[Any], **values: Any) -> int:
    """``queryset.update(**values)``, firing the events each changed row's save would fire.

    Returns the number of rows matched, as ``QuerySet.update()`` does. Values may be
    expressions (``F("total") * 2``): the rows are read again after the update. Five queries
    in all (read and lock, update, read again, who listens, the events), whatever the rows.
    """
    model = queryset.model
    source = sources.for_model(model)
    if source is None:
        return queryset.update(**values)
    using = queryset._db or router.db_for_write(model)  # type: ignore[attr-defined]
    with transaction.atomic(using=using):
        before = {instance.pk: instance for instance in _locked(queryset.using(using))}
        if not before:
            return 0
        rows = model._base_manager.using(using).filter(pk__in=list(before))
        matched: int = rows.update(**values)
        pairs = [(before[instance.pk], instance) for instance in rows.all()]
        _record_changes(source, pairs, using)
    return matched


def bulk_saved(
    instances: Iterable[models.Model],
    *,
    created: bool = False,
    update_fields: Sequence[str] | None = None,
) -> None:
    """Fire the events that saving each of ``instances`` would have fired.

    Call it in the transaction of a ``bulk_create(instances)`` (``created=True``; the rows
    need their primary keys, which PostgreSQL and SQLite give back) or a
    ``bulk_update(instances, fields)`` (``update_fields=fields``): the instances still know
    the values they were loaded with, so the changes are found as a save finds them.
    """
    instances = list(instances)
    if not instances:
        return
    source = sources.for_model(type(instances[0]))
    if source is None:
        return
    using = instances[0]._state.db or router.db_for_write(source.model)
    if created:
        _record_created(source, instances, using)
    else:
        pairs = [(_as_loaded(source, instance, using), instance) for instance in instances]
        _record_changes(source, pairs, using, update_fields, fresh_after=False)
    for instance in instances:
        values = instance.__dict__
        values[LOADED] = {
            name: values[name] for name in source.remembered_attnames if name in values
        }


def _locked(queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    features = connections[queryset.db].features
    if not features.has_select_for_update:
        return queryset
    if features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()


def _as_loaded(source: Source, instance: models.Model, using: str) -> models.Model:
    """A fresh instance holding what ``instance`` was loaded (or last saved) with."""
    loaded = {**instance.__dict__.get(LOADED, {}), source.model._meta.pk.attname: instance.pk}
    # from_db takes the values in the order of the model's fields.
    names = [f.attname for f in source.model._meta.concrete_fields if f.attname in loaded]
    return source.model.from_db(using, names, [loaded[name] for name in names])


def _record_created(source: Source, instances: list[models.Model], using: str) -> None:
    event_type = source.type_of("created")
    if "created" not in source.actions or not subscribed([event_type], using):
        return
    if any(instance.pk is None for instance in instances):
        raise ValueError(
            "bulk_saved(created=True) needs the rows' primary keys: this database did not "
            "return them from bulk_create()."
        )
    outbox.record_events(
        [
            outbox.NewEvent(
                type=event_type,
                object_model=source.label,
                object_pk=str(instance.pk),
                state=object_state(instance),
            )
            for instance in instances
        ],
        using=using,
    )


def _record_changes(
    source: Source,
    pairs: list[tuple[models.Model, models.Model]],
    using: str,
    update_fields: Sequence[str] | None = None,
    *,
    fresh_after: bool = True,
) -> None:
    """Events for each (before, after) pair of one row, as its save would record them.

    The "before" instances are fresh; the "after" ones too unless ``fresh_after`` is False
    (the store's own instances, whose cached properties may be stale).
    """
    planned = []
    wanted: set[str] = set()
    for old, new in pairs:
        values = old.__dict__
        loaded = {name: values[name] for name in source.remembered_attnames if name in values}
        previous = changes(source, new, loaded, update_fields)
        state = object_state(new)
        types = []
        if previous:
            types = [source.type_of("updated")] if "updated" in source.actions else []
            types += [
                status.event_type
                for status in source.status_fields
                if not status.derived and status.name in previous
            ]
        if source.derived_status_fields:
            after = new if fresh_after else _fresh(source, new, state, using)
            types += _derived_changes(source, old, after, previous)
        if types:
            wanted.update(types)
            planned.append((new, previous, types, state))
    listened = subscribed(sorted(wanted), using)
    new_events = []
    for instance, previous, types, state in planned:
        pk = str(instance.pk)
        earlier = outbox.events_in_open_transaction(source.label, pk, using)
        if earlier:
            outbox.restate(earlier, state, using)
        new_events += [
            outbox.NewEvent(
                type=event_type,
                object_model=source.label,
                object_pk=pk,
                previous=previous,
                state=state,
            )
            for event_type in types
            if event_type in listened
        ]
    outbox.record_events(new_events, using=using)


def _derived_changes(
    source: Source, old: models.Model, new: models.Model, previous: dict[str, Any]
) -> list[str]:
    """The derived status types whose value differs between two fresh instances."""
    statuses = source.derived_status_fields
    before = source.status_values(old, statuses)
    after = source.status_values(new, statuses)
    changed = [status for status in statuses if after[status.name] != before[status.name]]
    for status in changed:
        previous[status.name] = before[status.name]
    return [status.event_type for status in changed]


def _fresh(source: Source, instance: models.Model, state: str | None, using: str) -> models.Model:
    if state is None:
        return source.model._base_manager.using(using).get(pk=instance.pk)
    return rebuild(source.model, state, using)
