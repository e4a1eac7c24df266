"""Checks of the event sources: ``SOURCES``, or the one source ``ORDER_MODEL`` stands for."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning

from .. import sources
from .ids import ID

#: ORDER_MODEL's own ids for what SOURCES reports under general ones.
_SHORTHAND_IDS = {"E018": "E003", "E027": "E004", "E022": "E028"}


def check_sources(raw: dict[str, Any]) -> list[CheckMessage]:
    if raw.get("SOURCES") is not None and raw.get("ORDER_MODEL") is not None:
        return [
            Error(
                "WEBHOOKS sets both 'SOURCES' and 'ORDER_MODEL'.",
                hint="ORDER_MODEL is the shorthand for one source; describe the order in "
                "SOURCES['order'] instead.",
                id=ID + "E026",
            )
        ]
    if raw.get("SOURCES") is not None:
        return _check_sources(raw["SOURCES"])
    if raw.get("ORDER_MODEL") is None:
        return [
            CheckWarning(
                "Neither WEBHOOKS['SOURCES'] nor WEBHOOKS['ORDER_MODEL'] is set: no model "
                "events will fire.",
                hint="Set ORDER_MODEL to your order model, e.g. 'shop.Order', or describe your "
                "models in SOURCES.",
                id=ID + "W001",
            )
        ]
    return _check_shorthand()


def _check_shorthand() -> list[CheckMessage]:
    ((prefix, spec),) = sources.configured().items()
    try:
        sources.build(prefix, spec)
    except sources.SourceError as error:
        check_id = _SHORTHAND_IDS.get(error.check_id, error.check_id)
        message = str(error).replace(
            "WEBHOOKS['SOURCES']['order']['model']", "WEBHOOKS['ORDER_MODEL']"
        )
        message = message.replace(
            "WEBHOOKS['SOURCES']['order']['serializer']", "WEBHOOKS['ORDER_SERIALIZER']"
        )
        hint = error.hint
        if check_id == "E028":
            message = (
                f"WEBHOOKS['ORDER_MODEL'] = {spec['model']!r} lacks the seed's status fields: "
                f"{message}"
            )
            hint = (
                "ORDER_MODEL expects fields named status, payment_status and fulfillment_status. "
                "Describe your own names (fields, properties or methods) in WEBHOOKS['SOURCES']."
            )
        return [Error(message, hint=hint or None, id=ID + check_id)]
    return []


def _check_sources(spec: Any) -> list[CheckMessage]:
    if not isinstance(spec, dict) or not spec:
        return [
            Error(
                "WEBHOOKS['SOURCES'] must be a non-empty dict of prefix -> source.",
                hint="e.g. {'order': {'model': 'store.Order'}}",
                id=ID + "E017",
            )
        ]
    errors: list[CheckMessage] = []
    models_seen: dict[Any, str] = {}
    types_seen: dict[str, str] = {}
    for prefix, source_spec in spec.items():
        try:
            source = sources.build(prefix, source_spec)
        except sources.SourceError as error:
            errors.append(Error(str(error), hint=error.hint or None, id=ID + error.check_id))
            continue
        if source.model in models_seen:
            errors.append(
                Error(
                    f"WEBHOOKS['SOURCES']: {source.model._meta.label} is the model of both "
                    f"{models_seen[source.model]!r} and {prefix!r}.",
                    hint="One source per model: give it one prefix.",
                    id=ID + "E025",
                )
            )
        models_seen.setdefault(source.model, prefix)
        for event_type, _label in source.event_types():
            if event_type in types_seen and types_seen[event_type] != prefix:
                errors.append(
                    Error(
                        f"WEBHOOKS['SOURCES']: {event_type!r} is fired by both "
                        f"{types_seen[event_type]!r} and {prefix!r}.",
                        id=ID + "E025",
                    )
                )
            types_seen.setdefault(event_type, prefix)
    return errors
