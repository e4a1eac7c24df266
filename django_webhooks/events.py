"""The event catalog: which event types a webhook can fire on, and their labels.

Two kinds of types make it up: those the event sources can fire (``order.created``…, one
set per source, see :mod:`django_webhooks.sources`) and those registered with
:func:`register_event` (the store's own, and ``webhook.test``). Register at start-up (in an
``AppConfig.ready()``) so that web and worker processes agree on the same catalog.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ORDER_CREATED = "order.created"
ORDER_UPDATED = "order.updated"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_PAYMENT_STATUS_CHANGED = "order.payment_status_changed"
ORDER_FULFILLMENT_STATUS_CHANGED = "order.fulfillment_status_changed"
ORDER_DELETED = "order.deleted"
WEBHOOK_TEST = "webhook.test"

#: The order types of ``ORDER_MODEL`` (the seed's mapping).
ORDER_EVENT_TYPES = frozenset(
    {
        ORDER_CREATED,
        ORDER_UPDATED,
        ORDER_DELETED,
        ORDER_STATUS_CHANGED,
        ORDER_PAYMENT_STATUS_CHANGED,
        ORDER_FULFILLMENT_STATUS_CHANGED,
    }
)

#: Labels of the types whose names the store's spec fixes, whichever source fires them.
BUILTIN_LABELS: dict[str, str | Promise] = {
    ORDER_CREATED: _("New order"),
    ORDER_UPDATED: _("Order updated"),
    ORDER_STATUS_CHANGED: _("Order status changed"),
    ORDER_PAYMENT_STATUS_CHANGED: _("Payment status changed"),
    ORDER_FULFILLMENT_STATUS_CHANGED: _("Fulfilment status changed"),
    ORDER_DELETED: _("Order deleted"),
    WEBHOOK_TEST: _("Test"),
}

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
EVENT_TYPE_MAX_LENGTH = 100


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class EventType:
    type: str
    label: str | Promise
    #: A JSON Schema (2020-12) of the body's ``data``, as the store declared it; None: undeclared.
    schema: Mapping[str, Any] | None = None
    #: An example ``data`` (valid against ``schema``); None: the catalog makes one.
    example: Mapping[str, Any] | None = None


_registered: dict[str, EventType] = {}
#: Functions giving ``(type, label)`` pairs computed from settings (the event sources).
_providers: list[Callable[[], Iterable[tuple[str, Any]]]] = []


def register_event(
    type: str,  # noqa: A002 - the public name
    label: str | Promise,
    *,
    schema: Mapping[str, Any] | None = None,
    example: Mapping[str, Any] | None = None,
) -> EventType:
    """Add an event type to the catalog ("Fire when" choices, API validation).

    ``schema`` is a JSON Schema (2020-12) of the body's ``data`` (what ``send_event`` is given,
    or what a source with a callable serializer renders); ``example`` an example ``data``
    valid against it. Both appear in ``GET /api/event-types/`` and the OpenAPI webhooks. A
    schema that is not a valid JSON Schema, or an example it rejects, raises ValueError here,
    at start-up, naming the type.

    Registering the same type twice alike is harmless; a different label or schema is almost
    always two apps colliding on one name, so it raises.
    """
    if not isinstance(type, str) or not TYPE_PATTERN.fullmatch(type):
        raise ValueError(
            f"Event type {type!r} must be dotted lower-case words, e.g. 'customer.deleted'."
        )
    if len(type) > EVENT_TYPE_MAX_LENGTH:
        raise ValueError(f"Event type {type!r} is longer than {EVENT_TYPE_MAX_LENGTH} characters.")
    schema, example = _checked_declaration(type, schema, example)
    existing = _registered.get(type)
    if existing is not None and str(existing.label) != str(label):
        raise ValueError(
            f"Event type {type!r} is already registered with the label {existing.label!r}."
        )
    if existing is not None and (existing.schema, existing.example) != (schema, example):
        raise ValueError(f"Event type {type!r} is already registered with another schema.")
    event_type = EventType(type=type, label=label, schema=schema, example=example)
    _registered[type] = event_type
    return event_type


def _checked_declaration(
    type: str,  # noqa: A002
    schema: Any,
    example: Any,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``schema`` and ``example`` as plain JSON, or ValueError saying what is wrong with them."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if schema is not None:
        if not isinstance(schema, Mapping):
            raise ValueError(f"Event type {type!r}: schema must be a JSON Schema object (a dict).")
        schema = _plain_json(type, "schema", schema)
        dialect = schema.get("$schema", JSON_SCHEMA_DIALECT)
        if dialect != JSON_SCHEMA_DIALECT:
            raise ValueError(
                f"Event type {type!r}: schema is {dialect!r}; use JSON Schema 2020-12 "
                f"({JSON_SCHEMA_DIALECT})."
            )
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            raise ValueError(
                f"Event type {type!r}: schema is not a valid JSON Schema: {error.message} "
                f"(at {where})."
            ) from None
    if example is not None:
        if not isinstance(example, Mapping):
            raise ValueError(f"Event type {type!r}: example must be a dict (the body's data).")
        example = _plain_json(type, "example", example)
        if schema is not None:
            problem = next(iter(Draft202012Validator(schema).iter_errors(example)), None)
            if problem is not None:
                raise ValueError(
                    f"Event type {type!r}: the example does not match its schema: "
                    f"{problem.message}."
                )
    return schema, example


def _plain_json(type: str, what: str, value: Mapping[str, Any]) -> dict[str, Any]:  # noqa: A002
    try:
        plain: dict[str, Any] = json.loads(json.dumps(value, allow_nan=False))
        return plain
    except (TypeError, ValueError) as error:
        raise ValueError(f"Event type {type!r}: {what} is not JSON: {error}.") from None


def unregister_event(type: str) -> None:  # noqa: A002
    """Remove a registered type (tests, and apps that are switched off)."""
    _registered.pop(type, None)


def add_provider(provider: Callable[[], Iterable[tuple[str, Any]]]) -> None:
    """Let ``provider`` add types computed at access (the event sources do, from settings)."""
    if provider not in _providers:
        _providers.append(provider)


def get_event_types() -> list[EventType]:
    """The whole catalog: the sources' types first, then the registered ones."""
    catalog: dict[str, EventType] = {}
    for provider in _providers:
        for event_type, label in provider():
            if event_type not in catalog and len(event_type) <= EVENT_TYPE_MAX_LENGTH:
                catalog[event_type] = _registered.get(event_type) or EventType(event_type, label)
    for registered in _registered.values():
        catalog.setdefault(registered.type, registered)
    return list(catalog.values())


def is_registered(type: str) -> bool:  # noqa: A002
    """Whether ``type`` is in the catalog (registered, or one a source can fire)."""
    return type in _registered or any(entry.type == type for entry in get_event_types())


def label_for(type: str) -> str:  # noqa: A002
    for entry in get_event_types():
        if entry.type == type:
            return str(entry.label)
    return type


def choices() -> list[tuple[str, str | Promise]]:
    return [(event_type.type, event_type.label) for event_type in get_event_types()]


#: ``data`` of a ``webhook.test`` event (redelivery.send_test).
TEST_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "object": {
            "type": "object",
            "properties": {
                "webhook": {"type": "integer", "description": "The webhook's id."},
                "url": {"type": "string", "format": "uri", "description": "Its URL."},
                "message": {"type": "string"},
            },
            "required": ["webhook", "url", "message"],
            "additionalProperties": False,
        }
    },
    "required": ["object"],
    "additionalProperties": False,
}
TEST_EVENT_EXAMPLE: dict[str, Any] = {
    "object": {
        "webhook": 3,
        "url": "https://partner.example/hooks",
        "message": "This is a test delivery from django-webhooks.",
    }
}

register_event(
    WEBHOOK_TEST,
    BUILTIN_LABELS[WEBHOOK_TEST],
    schema=TEST_EVENT_SCHEMA,
    example=TEST_EVENT_EXAMPLE,
)
