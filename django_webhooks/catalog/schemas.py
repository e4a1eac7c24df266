"""Each event type's JSON Schema (2020-12) of the whole JSON body, and an example body.

The envelope is the app's own (:func:`django_webhooks.payloads.envelope`), so it is exact:
``id``, ``type`` fixed to the type, ``created_at`` to the second in UTC, ``sequence`` (the
event's number among its object's events; null without an object), ``data``. What
``data`` holds depends on who makes the event:

* a source's type: ``object`` as the source's serializer renders it (mapped by
  drf-spectacular, :mod:`.mapping`; a callable serializer declares nothing, so an open
  object), and on changes ``previous``: the old values of the fields a save changed, by field
  name, as the model holds them — a status type's own field always among them;
* a type registered with a schema (``register_event(..., schema=…)``): that schema, which
  wins over a source's derived one;
* any other registered type: an open object, because nobody said more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .. import events, sources
from ..sources import Source
from ..sources.building import _DrfSerializer, concrete_fields_snapshot
from .examples import EXAMPLE_MOMENT, example_for
from .mapping import DEFS, Mapper, concrete_serializer, refs_in, rewrite_refs

EXAMPLE_EVENT_ID = "evt_01JDQ3C6WZ6RKG0X7S5N9M4T2V"

ENVELOPE_ID: dict[str, Any] = {
    "type": "string",
    "pattern": "^evt_[0-9A-HJKMNP-TV-Z]{26}$",
    "description": "The event id, the same on every attempt (the webhook-id header): drop "
    "duplicates by it.",
}
ENVELOPE_CREATED_AT: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
    "description": "When the event happened: RFC 3339, UTC, to the second.",
}
ENVELOPE_SEQUENCE: dict[str, Any] = {
    "type": ["integer", "null"],
    "minimum": 1,
    "description": "The event's number among the events of its object (this order, this "
    "customer): 1, 2, 3, … in the order they happened, the same on every attempt and "
    "redelivery. A gap: an event not (yet) received; lower than the last one seen: stale, "
    "ignore it. Null for an event about no object.",
}
TEST_SEQUENCE: dict[str, Any] = {
    "type": "null",
    "description": "A test event is about no object: always null.",
}


@dataclass(frozen=True)
class Entry:
    """One type of the catalog, as third parties see it."""

    type: str
    label: str
    #: JSON Schema 2020-12 of the whole JSON body.
    schema: dict[str, Any]
    #: A whole JSON body that validates against ``schema``.
    example: dict[str, Any]


def component_name(event_type: str, suffix: str = "Event") -> str:
    """``order.status_changed`` -> ``OrderStatusChangedEvent``."""
    words = re.split(r"[._]", event_type)
    return "".join(word[:1].upper() + word[1:] for word in words if word) + suffix


def build() -> list[Entry]:
    mapper = Mapper()
    by_type: dict[str, Source] = {}
    for source in sources.all_sources().values():
        for fired, _label in source.event_types():
            by_type.setdefault(fired, source)
    built = []
    for event_type in events.get_event_types():
        fired_by = by_type.get(event_type.type)
        data, own_defs = _data(event_type, fired_by, mapper)
        defs = {**mapper.defs(), **own_defs}
        built.append(_entry(event_type, data, defs, about_object=fired_by is not None))
    return built


def _entry(
    event_type: events.EventType, data: dict[str, Any], defs: dict[str, Any], *, about_object: bool
) -> Entry:
    reachable = _reachable(data, defs)
    schema: dict[str, Any] = {
        "$schema": events.JSON_SCHEMA_DIALECT,
        "title": str(event_type.label),
        "description": f"The JSON body of a `{event_type.type}` delivery.",
        "type": "object",
        "properties": {
            "id": ENVELOPE_ID,
            "type": {"const": event_type.type, "description": "The event type."},
            "created_at": ENVELOPE_CREATED_AT,
            "sequence": (
                TEST_SEQUENCE if event_type.type == events.WEBHOOK_TEST else ENVELOPE_SEQUENCE
            ),
            "data": data,
        },
        "required": ["id", "type", "created_at", "sequence", "data"],
        "additionalProperties": False,
    }
    if reachable:
        schema["$defs"] = reachable
    example_data = (
        dict(event_type.example)
        if event_type.example is not None
        else example_for(data, reachable, "data")
    )
    example = {
        "id": EXAMPLE_EVENT_ID,
        "type": event_type.type,
        "created_at": EXAMPLE_MOMENT,
        "sequence": 1 if about_object else None,
        "data": example_data,
    }
    return Entry(event_type.type, str(event_type.label), schema, example)


def _reachable(schema: Any, defs: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pending = list(refs_in(schema))
    while pending:
        ref = pending.pop()
        if not ref.startswith(DEFS):
            continue
        name = ref[len(DEFS) :].partition("/")[0]
        if name in found or name not in defs:
            continue
        found[name] = defs[name]
        pending += refs_in(defs[name])
    return dict(sorted(found.items()))


def _data(
    event_type: events.EventType, source: Source | None, mapper: Mapper
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data``'s schema, and the ``$defs`` of a declared schema hoisted out of it."""
    if event_type.schema is not None:
        return _declared(event_type)
    if source is None:
        return {
            "type": "object",
            "description": "Not declared: the store registered this type without a schema.",
        }, {}
    return _from_source(event_type.type, source, mapper), {}


def _declared(event_type: events.EventType) -> tuple[dict[str, Any], dict[str, Any]]:
    declared = dict(event_type.schema or {})
    declared.pop("$schema", None)
    if not any(ref.startswith("#") for ref in refs_in(declared)):
        return declared, {}
    # Its own refs ("#/$defs/x", "#") point into it: hoisted into $defs, they still do.
    name = component_name(event_type.type, "Data")

    def rename(ref: str) -> str:
        return f"{DEFS}{name}{ref[1:]}" if ref == "#" or ref.startswith("#/") else ref

    return {"$ref": DEFS + name}, {name: rewrite_refs(declared, rename)}


def _from_source(event_type: str, source: Source, mapper: Mapper) -> dict[str, Any]:
    model = source.model
    serializer_class: type | None
    if isinstance(source.serializer, _DrfSerializer):
        serializer_class = source.serializer.serializer_class
        obj = mapper.serializer(source.serializer.serializer_class)
    elif source.serializer is concrete_fields_snapshot:
        serializer_class = concrete_serializer(
            model, [field.name for field in model._meta.concrete_fields], model.__name__
        )
        obj = mapper.serializer(serializer_class)
    else:
        serializer_class = None
        obj = {
            "type": "object",
            "description": f"Rendered by {source.serializer_spec!r}, which declares no schema "
            "(register the type with a schema to declare one).",
        }
    data: dict[str, Any] = {"type": "object", "properties": {"object": obj}}
    if event_type in (source.type_of("created"), source.type_of("deleted")):
        data["required"] = ["object"]
    else:
        status = next((s for s in source.status_fields if s.event_type == event_type), None)
        data["properties"]["previous"] = _previous(source, status, serializer_class, mapper)
        data["required"] = ["object", "previous"]
    data["additionalProperties"] = False
    return data


def _previous(
    source: Source,
    status: sources.StatusField | None,
    serializer_class: type | None,
    mapper: Mapper,
) -> dict[str, Any]:
    properties = mapper.fields(source.model, [field.name for field in source.tracked_fields])
    for derived in source.derived_status_fields:
        rendered = mapper.field_of(serializer_class, derived.name) if serializer_class else None
        # Read off the instance, typed by nobody but the serializer field of its name; null when
        # its first value in the transaction was not known.
        properties[derived.name] = (
            {"anyOf": [_loose(rendered), {"type": "null"}]} if rendered else {}
        )
    schema: dict[str, Any] = {
        "type": "object",
        "description": "The old values of the fields this change changed, by field name.",
        "properties": properties,
        "minProperties": 1,
        "additionalProperties": False,
    }
    if status is not None:
        schema["required"] = [status.name]
    return schema


def _loose(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key not in ("readOnly", "title")}
