"""The event catalog: which event types a webhook can fire on, and their labels.

Two kinds of types make it up: those the event sources can fire (``order.created``…, one
set per source, see :mod:`django_webhooks.sources`) and those registered with
:func:`register_event` (the store's own, and ``webhook.test``). Register at start-up (in an
``AppConfig.ready()``) so that web and worker processes agree on the same catalog.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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


@dataclass(frozen=True)
class EventType:
    type: str
    label: str | Promise


_registered: dict[str, EventType] = {}
#: Functions giving ``(type, label)`` pairs computed from settings (the event sources).
_providers: list[Callable[[], Iterable[tuple[str, Any]]]] = []


def register_event(type: str, label: str | Promise) -> EventType:  # noqa: A002 - the public name
    """Add an event type to the catalog ("Fire when" choices, API validation).

    Registering the same type twice with the same label is harmless; a different label is
    almost always two apps colliding on one name, so it raises.
    """
    if not isinstance(type, str) or not TYPE_PATTERN.fullmatch(type):
        raise ValueError(
            f"Event type {type!r} must be dotted lower-case words, e.g. 'customer.deleted'."
        )
    if len(type) > EVENT_TYPE_MAX_LENGTH:
        raise ValueError(f"Event type {type!r} is longer than {EVENT_TYPE_MAX_LENGTH} characters.")
    existing = _registered.get(type)
    if existing is not None and str(existing.label) != str(label):
        raise ValueError(
            f"Event type {type!r} is already registered with the label {existing.label!r}."
        )
    event_type = EventType(type=type, label=label)
    _registered[type] = event_type
    return event_type


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


register_event(WEBHOOK_TEST, BUILTIN_LABELS[WEBHOOK_TEST])
