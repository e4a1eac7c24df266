"""An event's object, kept with the event and rendered by the worker.

An event's object is the instance as the event's transaction committed it, but the payload is
built later, by a worker. So the instance's own fields are kept with the event
(:func:`object_state`) and the instance is rebuilt from them (:func:`rebuild`) before its
source's serializer runs (:func:`object_snapshot`); its related rows (items, customer) are
read then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from . import sources
from .sources import concrete_fields_snapshot

__all__ = ["concrete_fields_snapshot", "object_snapshot", "object_state", "rebuild"]


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
            else field.value_to_string(_Holding(field.attname, value))  # type: ignore[arg-type]
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


def object_snapshot(instance: models.Model) -> dict[str, Any]:
    """``data.object`` for an instance of a source model, as its source's serializer gives it."""
    source = sources.for_model(type(instance))
    if source is None:
        raise LookupError(f"{instance._meta.label} is not an event source (WEBHOOKS['SOURCES']).")
    return source.snapshot(instance)


#: The name of the seed's days, when every source was an order.
order_snapshot = object_snapshot
