"""Order saves and deletes → order events (CONTRACT §4).

``pre_save`` reads the row as the database has it (when some active webhook listens),
``post_save`` compares and records the events in the same transaction, ``pre_delete``
records ``order.deleted`` while the order's items still exist. Changes made with
``QuerySet.update()`` bypass model signals and are not seen, as in every signal-based app.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_save, pre_delete, pre_save

from . import events, outbox, payloads
from .snapshots import model_label, order_model, order_snapshot

_PENDING = "_django_webhooks_pending"
_UIDS = {
    pre_save: "django_webhooks.tracking.before_save",
    post_save: "django_webhooks.tracking.after_save",
    pre_delete: "django_webhooks.tracking.before_delete",
}
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
    pre_save.connect(_before_save, sender=model, dispatch_uid=_UIDS[pre_save])
    post_save.connect(_after_save, sender=model, dispatch_uid=_UIDS[post_save])
    pre_delete.connect(_before_delete, sender=model, dispatch_uid=_UIDS[pre_delete])
    _connected = model


def disconnect() -> None:
    global _connected
    if _connected is not None:
        for signal, uid in _UIDS.items():
            signal.disconnect(sender=_connected, dispatch_uid=uid)
    _connected = None


def _tracked_fields(instance: models.Model, update_fields: Any) -> list[models.Field]:
    deferred = instance.get_deferred_fields()
    return [
        field
        for field in instance._meta.concrete_fields
        if not field.primary_key
        and not getattr(field, "auto_now", False)
        and field.attname not in deferred
        and (update_fields is None or field.name in update_fields or field.attname in update_fields)
    ]


def _before_save(sender, instance, raw=False, using=None, update_fields=None, **kwargs) -> None:
    if raw:
        return
    subscribed = outbox.subscribed_event_types(using) & events.ORDER_EVENT_TYPES
    if not subscribed:
        instance.__dict__.pop(_PENDING, None)
        return
    old_values = None
    if instance.pk is not None:
        fields = _tracked_fields(instance, update_fields)
        old_values = (
            sender._base_manager.using(using)
            .filter(pk=instance.pk)
            .values(*[field.attname for field in fields])
            .first()
        )
    instance.__dict__[_PENDING] = (subscribed, old_values)


def _after_save(sender, instance, created, raw=False, using=None, update_fields=None, **kwargs):
    pending = instance.__dict__.pop(_PENDING, None)
    if raw or pending is None:
        return
    subscribed, old_values = pending
    previous = None
    if created or old_values is None:
        types = [events.ORDER_CREATED]
    else:
        previous = _changes(instance, old_values, update_fields)
        if not previous:
            return
        types = [events.ORDER_UPDATED] + [
            event_type
            for field_name, event_type in events.STATUS_FIELD_EVENTS.items()
            if field_name in previous
        ]
    outbox.record(
        [
            outbox.NewEvent(
                type=event_type,
                object_model=model_label(sender),
                object_pk=str(instance.pk),
                previous=previous,
            )
            for event_type in types
            if event_type in subscribed
        ],
        using=using,
    )


def _changes(
    instance: models.Model, old_values: dict[str, Any], update_fields: Any
) -> dict[str, Any]:
    """The old values (by field name, JSON-compatible) of the fields this save changed."""
    changed = {}
    for field in _tracked_fields(instance, update_fields):
        if field.attname not in old_values:
            continue
        old = old_values[field.attname]
        new = getattr(instance, field.attname)
        if _normalised(field, old) != _normalised(field, new):
            changed[field.name] = old
    return payloads.to_json_compatible(changed)


def _normalised(field: models.Field, value: Any) -> Any:
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value


def _before_delete(sender, instance, using=None, **kwargs) -> None:
    if events.ORDER_DELETED not in outbox.subscribed_event_types(using):
        return
    outbox.record(
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
