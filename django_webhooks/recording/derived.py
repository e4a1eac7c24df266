"""Status values that are properties or methods ("paid in full"), and the rows they come from.

Such a value is read before and after each write that can change it: a save of the source
instance itself, or a save or delete of one of its ``related`` rows. Both reads are made on
fresh instances (never on one whose cached properties may be stale): before, one read of the
instance from the database; after, an instance rebuilt from that read (or from the row as
the source's own save left it), so its properties query the rows as they are now.

Within one transaction the first value read is the one an event's ``previous`` shows, and
each status has at most one event: a second change updates nothing (the payload is built
from the committed rows), a change back to the first value removes the event. Everything is
written in the transaction of the write that caused it: a rollback leaves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import models

from .. import sources
from ..snapshots import object_state, rebuild
from ..sources import Related, Source
from . import memo, outbox
from .subscriptions import subscribed

#: On a written instance, between its pre_ and post_ signal: what was read before.
BEFORE = "_django_webhooks_before"
#: On a related row as loaded: the first hop of each path (which parent it belonged to).
PARENTS = "_django_webhooks_parents"


@dataclass(frozen=True)
class Statuses:
    """One source instance in the open transaction, as the trackers know it."""

    before: dict[str, Any] = field(default_factory=dict)
    #: ``object_state`` of the row, to rebuild a fresh instance without reading it again.
    row: str | None = None
    #: The event recorded so far for each status that changed, by status name.
    event_ids: dict[str, str] = field(default_factory=dict)
    deleted: bool = False


def _key(source: Source, pk: Any) -> tuple[str, str, str]:
    return ("statuses", source.label, str(pk))


def mark_deleted(source: Source, pk: str, using: str) -> None:
    """Being deleted: the writes of its related rows that follow (a cascade) change nothing."""
    if source.derived_status_fields:
        known = memo.get(_key(source, pk), using) or Statuses()
        memo.put(_key(source, pk), replace(known, deleted=True), using)


# --- signal receivers -----------------------------------------------------------------------


def remember_parent(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """post_init of a related model: which parent the row belongs to in the database."""
    values = instance.__dict__
    values[PARENTS] = {
        related.path: values.get(related.first_attname)
        for _source, related in sources.related_to(sender)
    }


def before_source_save(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool = False,
    using: str = "default",
    **kwargs: Any,
) -> None:
    source = sources.for_model(sender)
    if source is None or raw or instance._state.adding or instance.pk is None:
        return
    instance.__dict__[BEFORE] = {"": _read_before(source, {instance.pk}, using)}


def after_source_save(source: Source, instance: models.Model, row: str | None, using: str) -> None:
    """Called by the tracker's post_save with the row as this save left it."""
    before = instance.__dict__.pop(BEFORE, {}).get("", {})
    _read_after(source, {instance.pk}, before, using, row=row)


def before_related_write(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool = False,
    using: str = "default",
    **kwargs: Any,
) -> None:
    """pre_save and pre_delete of a related row: the parents' values before the write."""
    if raw:
        return
    stash = {}
    for source, related in sources.related_to(sender):
        parents = _parents(related, instance, using)
        if parents:
            stash[_stash_key(source, related)] = (parents, _read_before(source, parents, using))
    instance.__dict__[BEFORE] = stash


def after_related_write(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool = False,
    using: str = "default",
    **kwargs: Any,
) -> None:
    """post_save and post_delete: the parents' values after it, old parent and new."""
    stash = instance.__dict__.pop(BEFORE, {})
    if raw:
        return
    for source, related in sources.related_to(sender):
        parents, before = stash.get(_stash_key(source, related), (set(), {}))
        _read_after(source, parents, before, using)
    remember_parent(sender, instance)


def _stash_key(source: Source, related: Related) -> str:
    return f"{source.prefix}:{related.path}"


# --- reading before and after ---------------------------------------------------------------


def _parents(related: Related, instance: models.Model, using: str) -> set[Any]:
    """The source instances this row belongs to: as loaded, and as it is about to be saved."""
    firsts = {instance.__dict__.get(related.first_attname)}
    loaded = instance.__dict__.get(PARENTS)
    if loaded is not None:
        firsts.add(loaded.get(related.path))
    firsts.discard(None)
    if not firsts or not related.rest:
        return firsts
    return set(
        related.first_model._base_manager.using(using)
        .filter(pk__in=firsts)
        .exclude(**{f"{related.rest}__isnull": True})
        .values_list(related.rest, flat=True)
    )


def _read_before(source: Source, pks: Iterable[Any], using: str) -> dict[str, Statuses]:
    """Each instance's status values before the write: remembered, or read now (one query)."""
    statuses = source.derived_status_fields
    if not statuses or not subscribed([status.event_type for status in statuses], using):
        return {}
    pks = {str(pk) for pk in pks}
    known = memo.get_many([_key(source, pk) for pk in pks], using)
    found = {pk: known[_key(source, pk)] for pk in pks if _key(source, pk) in known}
    unread = [pk for pk in pks if pk not in found]
    if unread:
        for instance in source.model._base_manager.using(using).filter(pk__in=unread):
            pk = str(instance.pk)
            found[pk] = Statuses(
                before=source.status_values(instance, statuses), row=object_state(instance)
            )
            memo.put(_key(source, pk), found[pk], using)
    return found


def _read_after(
    source: Source,
    pks: Iterable[Any],
    before: dict[str, Statuses],
    using: str,
    *,
    row: str | None = None,
) -> None:
    statuses = source.derived_status_fields
    new_events: list[tuple[str, outbox.NewEvent]] = []
    dropped: list[str] = []
    updated: dict[str, Statuses] = {}
    for pk in {str(pk) for pk in pks}:
        known = memo.get(_key(source, pk), using) or before.get(pk)
        if known is None or known.deleted:
            continue
        known = replace(known, row=row if row is not None else known.row)
        fresh = _fresh(source, pk, known.row, using)
        if fresh is None:
            continue
        after = source.status_values(fresh, statuses)
        changed = {name for name, value in after.items() if value != known.before.get(name)}
        event_ids = {name: i for name, i in known.event_ids.items() if name in changed}
        dropped += [i for name, i in known.event_ids.items() if name not in changed]
        for status in statuses:
            if status.name in changed and status.name not in event_ids:
                new_events.append(
                    (
                        status.name,
                        outbox.NewEvent(
                            type=status.event_type,
                            object_model=source.label,
                            object_pk=pk,
                            previous={status.name: known.before.get(status.name)},
                            state=known.row,
                        ),
                    )
                )
        updated[pk] = replace(known, event_ids=event_ids)
    listened = subscribed(list({new.type for _name, new in new_events}), using)
    wanted = [(name, new) for name, new in new_events if new.type in listened]
    recorded = outbox.record_events([new for _name, new in wanted], using=using)
    for (name, new), event in zip(wanted, recorded, strict=True):
        updated[new.object_pk].event_ids[name] = event.id
    outbox.drop_events(dropped, using)
    for pk, statuses_now in updated.items():
        memo.put(_key(source, pk), statuses_now, using)


def _fresh(source: Source, pk: str, row: str | None, using: str) -> models.Model | None:
    if row is not None:
        return rebuild(source.model, row, using)
    return source.model._base_manager.using(using).filter(pk=pk).first()
