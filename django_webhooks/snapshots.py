"""What ``data.object`` holds for a model instance: ORDER_SERIALIZER, or every concrete field.

An order event's object is the order as the event's transaction committed it, but the payload
is built later, by a worker. So the order's own fields are kept with the event
(:func:`object_state`) and the instance is rebuilt from them (:func:`rebuild`) before the
serializer runs; its related rows (items, customer) are read then.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.module_loading import import_string

from . import payloads
from .conf import webhook_settings

Serializer = Callable[[models.Model], dict[str, Any]]


def order_model() -> type[models.Model] | None:
    label = webhook_settings.ORDER_MODEL
    if not label:
        return None
    return apps.get_model(label)


def model_label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def concrete_fields_snapshot(instance: models.Model) -> dict[str, Any]:
    """Every concrete field by name; a foreign key gives its primary key."""
    return {
        field.name: field.value_from_object(instance) for field in instance._meta.concrete_fields
    }


_JSON_NATIVE = (str, int, float, bool)
_NOTHING: Mapping[str, Any] = {}


class _Holding:
    """What Field.value_to_string reads a value from: an object with that one attribute."""

    def __init__(self, attname: str, value: Any) -> None:
        setattr(self, attname, value)


def object_state(instance: models.Model, unsaved: Mapping[str, Any] = _NOTHING) -> str | None:
    """The instance's concrete fields by attname, as JSON that :func:`rebuild` restores exactly.

    ``unsaved`` gives, by attname, what the database holds for fields a ``save(update_fields=…)``
    left out (the instance may hold other values for them). None when some field is deferred
    (not loaded, or refreshed from a database default) or holds what JSON cannot carry: the
    worker then reads the committed row instead.
    """
    values = {**instance.__dict__, **unsaved} if unsaved else instance.__dict__
    state = {}
    for field in instance._meta.concrete_fields:
        if field.attname not in values:
            return None
        value = values[field.attname]
        # value_to_string keeps what JSON would lose: microseconds, Decimal places, UUIDs.
        state[field.attname] = (
            value
            if value is None or isinstance(value, _JSON_NATIVE)
            else field.value_to_string(_Holding(field.attname, value))
        )
    try:
        return json.dumps(state, cls=DjangoJSONEncoder, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None


def rebuild(model: type[models.Model], state: str, using: str) -> models.Model:
    """An instance of ``model`` as :func:`object_state` saw it, bound to database ``using``."""
    values = json.loads(state)
    fields = model._meta.concrete_fields
    return model.from_db(
        using,
        [field.attname for field in fields],
        [
            field.to_python(values[field.attname])
            if field.attname in values
            else field.get_default()
            for field in fields
        ],
    )


@lru_cache(maxsize=8)
def _resolve(spec: str | type | Callable | None) -> Serializer:
    if spec is None:
        return concrete_fields_snapshot
    target = import_string(spec) if isinstance(spec, str) else spec
    if isinstance(target, type):
        from rest_framework.serializers import BaseSerializer

        if issubclass(target, BaseSerializer):
            return lambda instance: dict(target(instance).data)
    if callable(target):
        return target
    raise TypeError(f"ORDER_SERIALIZER {spec!r} is neither a DRF serializer nor a callable.")


def order_snapshot(instance: models.Model) -> dict[str, Any]:
    """``data.object`` for an order, JSON-compatible."""
    serializer = _resolve(webhook_settings.ORDER_SERIALIZER)
    return payloads.to_json_compatible(serializer(instance))
