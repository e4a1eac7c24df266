"""Order saves and deletes → order events (README: "Events").

Like django-model-utils' FieldTracker, every order instance remembers the values it was
loaded (or last saved) with; ``post_save`` compares, and when some active webhook listens,
records the events in the save's transaction, each with the order's fields as saved (a
later save in the same transaction updates them: the event shows the order as committed).
``pre_delete`` records ``order.deleted`` while the order's items still exist. An order save
thus costs no extra read; only one small query (who listens?) and, when someone does, one
INSERT and the queue's wake-up.

Not seen, as in every signal-based app: ``QuerySet.update()`` and raw SQL. An instance
refreshed with ``refresh_from_db()`` compares against what it was loaded with.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_init, post_save, pre_delete

from .. import events, payloads
from ..snapshots import model_label, object_state, order_model, order_snapshot
from . import outbox
from .subscriptions import subscribed

_LOADED = "_django_webhooks_loaded"
_UIDS = {
    post_init: "django_webhooks.recording.tracking.remember",
    post_save: "django_webhooks.recording.tracking.after_save",
    pre_delete: "django_webhooks.recording.tracking.before_delete",
}
_RECEIVERS: dict = {}
_connected: type[models.Model] | None = None


def connect() -> None:
    """(Re)attach the receivers to ``WEBHOOKS["ORDER_MODEL"]``; a bad setting is left to checks."""
    global _connected
    disconnect()
    try:
        model = order_model()
    except (LookupError, ValueError, TypeError, AttributeError):
        return  # a wrong ORDER_MODEL is reported by the system check E003
    if model is None:
        return
    for signal, receiver in _RECEIVERS.items():
        signal.connect(receiver, sender=model, dispatch_uid=_UIDS[signal])
    _connected = model


def disconnect() -> None:
    global _connected
    if _connected is not None:
        for signal, uid in _UIDS.items():
            signal.disconnect(sender=_connected, dispatch_uid=uid)
    _connected = None


def _tracked_fields(model: type[models.Model]) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not getattr(field, "auto_now", False)
    ]


def _remember(sender, instance: models.Model, **kwargs) -> None:
    values = instance.__dict__
    instance.__dict__[_LOADED] = {
        field.attname: values[field.attname]
        for field in _tracked_fields(sender)
        if field.attname in values  # deferred fields are not loaded, so not compared
    }


def _saved(field: models.Field, update_fields: Any) -> bool:
    # save(update_fields=...) takes field names and attnames ("customer" or "customer_id").
    return update_fields is None or field.name in update_fields or field.attname in update_fields


def _after_save(sender, instance, created, raw=False, using=None, update_fields=None, **kwargs):
    loaded = instance.__dict__.get(_LOADED, {})
    # What the database holds now: the saved fields' new values, the others' as they were.
    unsaved = {
        field.attname: loaded[field.attname]
        for field in _tracked_fields(sender)
        if not _saved(field, update_fields) and field.attname in loaded
    }
    _remember(sender, instance)
    instance.__dict__[_LOADED].update(unsaved)
    if raw:
        return
    label, pk = model_label(sender), str(instance.pk)
    previous = None
    if created:
        types = [events.ORDER_CREATED]
    else:
        previous = _changes(sender, instance, loaded, update_fields)
        types = [events.ORDER_UPDATED] if previous else []
        types += [
            event_type
            for field_name, event_type in events.STATUS_FIELD_EVENTS.items()
            if field_name in previous
        ]
    listened = subscribed(types, using)  # no query when nothing changed
    wanted = [event_type for event_type in types if event_type in listened]
    earlier = outbox.events_in_open_transaction(label, pk, using)
    if not (wanted or earlier):
        return
    # The row as this save left it: what every event of this order in this transaction shows.
    state = object_state(instance, unsaved)
    if earlier:
        outbox.restate(earlier, state, using)
    if wanted:
        outbox.record_events(
            [
                outbox.NewEvent(
                    type=event_type,
                    object_model=label,
                    object_pk=pk,
                    previous=previous,
                    state=state,
                )
                for event_type in wanted
            ],
            using=using,
        )


def _changes(
    model: type[models.Model],
    instance: models.Model,
    loaded: dict[str, Any],
    update_fields: Any,
) -> dict[str, Any]:
    """The old values (by field name, JSON-compatible) of the fields this save changed."""
    changed = {}
    for field in _tracked_fields(model):
        if field.attname not in loaded:
            continue
        if not _saved(field, update_fields):
            continue
        old = loaded[field.attname]
        if _normalised(field, old) != _normalised(field, getattr(instance, field.attname)):
            changed[field.name] = old
    return payloads.to_json_compatible(changed) if changed else {}


def _normalised(field: models.Field, value: Any) -> Any:
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value


def _before_delete(sender, instance, using=None, **kwargs) -> None:
    if not subscribed([events.ORDER_DELETED], using):
        return
    outbox.record_events(
        [
            outbox.NewEvent(
                type=events.ORDER_DELETED,
                data={"object": order_snapshot(instance)},
                object_model=model_label(sender),
                object_pk=str(instance.pk),
            )
        ],
        using=using,
    )


_RECEIVERS.update({post_init: _remember, post_save: _after_save, pre_delete: _before_delete})
