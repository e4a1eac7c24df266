"""Source saves and deletes → events, in the save's transaction (README: "Events").

Like django-model-utils' FieldTracker, every instance of a source model remembers the values
it was loaded (or last saved) with; ``post_save`` compares, and when some active webhook
listens, records the events in the save's transaction, each with the instance's fields as
saved (a later save in the same transaction updates them: the event shows the object as
committed). ``pre_delete`` records ``<prefix>.deleted`` while the object's related rows still
exist. A save thus costs no extra read; only one small query (who listens?) and, when someone
does, one INSERT and the queue's wake-up. Status values that are properties or methods, and
the writes of ``related`` rows that change them, are :mod:`.derived`'s.

Not seen, as in every signal-based app: ``QuerySet.update()`` (use
``django_webhooks.update()``), ``bulk_create`` / ``bulk_update`` (see
``django_webhooks.bulk_saved()``) and raw SQL.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_delete, post_init, post_save, pre_delete, pre_save

from .. import payloads, sources
from ..snapshots import object_state
from ..sources import Source
from . import derived, outbox
from .subscriptions import subscribed

LOADED = sources.LOADED
_UID = "django_webhooks.recording.tracking"
_connected: list[tuple[Any, type[models.Model], str]] = []


def connect() -> None:
    """(Re)attach the receivers to the sources' models; a bad source is left to the checks."""
    disconnect()
    sources.reset()
    for source in sources.all_sources().values():
        for model in _with_proxies(source.model):
            _connect(post_init, _remember, model)
            _connect(post_save, _after_save, model)
            _connect(pre_delete, _before_delete, model)
            if source.derived_status_fields:
                _connect(pre_save, derived.before_source_save, model)
        for related in source.related:
            for model in _with_proxies(related.model):
                _connect(post_init, derived.remember_parent, model)
                _connect(pre_save, derived.before_related_write, model)
                _connect(post_save, derived.after_related_write, model)
                _connect(pre_delete, derived.before_related_write, model)
                _connect(post_delete, derived.after_related_write, model)


def _with_proxies(model: type[models.Model]) -> list[type[models.Model]]:
    """Signals name the class that was saved: a proxy's saves are the model's too."""
    proxies = [
        other
        for other in apps.get_models()
        if other._meta.proxy and other._meta.concrete_model is model
    ]
    return [model, *proxies]


def _connect(signal: Any, receiver: Any, model: type[models.Model]) -> None:
    uid = f"{_UID}.{receiver.__name__}.{model._meta.label_lower}"
    signal.connect(receiver, sender=model, dispatch_uid=uid)
    _connected.append((signal, model, uid))


def disconnect() -> None:
    while _connected:
        signal, model, uid = _connected.pop()
        signal.disconnect(sender=model, dispatch_uid=uid)


def _remember(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    source = sources.for_model(sender)
    if source is None:
        return
    values = instance.__dict__
    # Deferred fields are not loaded, so not compared.
    values[LOADED] = {name: values[name] for name in source.remembered_attnames if name in values}


def _saved(field: models.Field[Any, Any], update_fields: Any) -> bool:
    # save(update_fields=...) takes field names and attnames ("customer" or "customer_id").
    return update_fields is None or field.name in update_fields or field.attname in update_fields


def _after_save(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool = False,
    using: str = "default",
    update_fields: Any = None,
    **kwargs: Any,
) -> None:
    source = sources.for_model(sender)
    if source is None:
        return
    loaded = instance.__dict__.get(LOADED, {})
    # What the database holds now: the saved fields' new values, the others' as they were.
    unsaved = {
        field.attname: loaded[field.attname]
        for field in source.remembered_fields
        if not _saved(field, update_fields) and field.attname in loaded
    }
    _remember(sender, instance)
    instance.__dict__[LOADED].update(unsaved)
    if raw:
        return
    pk = str(instance.pk)
    previous = None
    if created:
        types = [source.type_of("created")] if "created" in source.actions else []
    else:
        previous = changes(source, instance, loaded, update_fields)
        types = [source.type_of("updated")] if previous and "updated" in source.actions else []
        types += [
            status.event_type
            for status in source.status_fields
            if not status.derived and status.name in previous
        ]
    listened = subscribed(types, using)  # no query when nothing changed
    wanted = [event_type for event_type in types if event_type in listened]
    earlier = outbox.events_in_open_transaction(source.label, pk, using)
    derived_pending = bool(source.derived_status_fields) and not created
    if not (wanted or earlier or derived_pending):
        return
    # The row as this save left it: what every event of this object in this transaction shows.
    state = object_state(instance, unsaved)
    if earlier:
        outbox.restate(earlier, state, using)
    if wanted:
        outbox.record_events(
            [
                outbox.NewEvent(
                    type=event_type,
                    object_model=source.label,
                    object_pk=pk,
                    previous=previous,
                    state=state,
                )
                for event_type in wanted
            ],
            using=using,
        )
    if derived_pending:
        derived.after_source_save(source, instance, state, using)


def changes(
    source: Source, instance: models.Model, loaded: dict[str, Any], update_fields: Any
) -> dict[str, Any]:
    """The old values (by field name, JSON-compatible) of the fields this save changed.

    ``ignore_fields`` are left out: a change of those alone is no event.
    """
    changed = {}
    for field in source.tracked_fields:
        if field.attname not in loaded or not _saved(field, update_fields):
            continue
        old = loaded[field.attname]
        if _normalised(field, old) != _normalised(field, getattr(instance, field.attname)):
            changed[field.name] = old
    return payloads.to_json_compatible(changed) if changed else {}


def _normalised(field: models.Field[Any, Any], value: Any) -> Any:
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value


def _before_delete(
    sender: type[models.Model], instance: models.Model, using: str = "default", **kwargs: Any
) -> None:
    source = sources.for_model(sender)
    if source is None:
        return
    pk = str(instance.pk)
    derived.mark_deleted(source, pk, using)
    if "deleted" not in source.actions:
        return
    event_type = source.type_of("deleted")
    if not subscribed([event_type], using):
        return
    outbox.record_events(
        [
            outbox.NewEvent(
                type=event_type,
                data={"object": source.snapshot(instance)},
                object_model=source.label,
                object_pk=pk,
            )
        ],
        using=using,
    )
