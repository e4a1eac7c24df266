"""The event catalog: which event types exist and how the admin labels them.

Types are registered at start-up (built-ins here, the store's own in an ``AppConfig.ready()``)
so that web and worker processes agree on the same catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ORDER_CREATED = "order.created"
ORDER_UPDATED = "order.updated"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_PAYMENT_STATUS_CHANGED = "order.payment_status_changed"
ORDER_FULFILLMENT_STATUS_CHANGED = "order.fulfillment_status_changed"
ORDER_DELETED = "order.deleted"
WEBHOOK_TEST = "webhook.test"

#: Which order field's change fires which dedicated event type.
STATUS_FIELD_EVENTS: dict[str, str] = {
    "status": ORDER_STATUS_CHANGED,
    "payment_status": ORDER_PAYMENT_STATUS_CHANGED,
    "fulfillment_status": ORDER_FULFILLMENT_STATUS_CHANGED,
}

ORDER_EVENT_TYPES = frozenset(
    {ORDER_CREATED, ORDER_UPDATED, ORDER_DELETED, *STATUS_FIELD_EVENTS.values()}
)

_EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
EVENT_TYPE_MAX_LENGTH = 100


@dataclass(frozen=True)
class EventType:
    type: str
    label: str | Promise


_catalog: dict[str, EventType] = {}


def register_event(type: str, label: str | Promise) -> EventType:  # noqa: A002 - the public name
    """Add an event type to the catalog ("Fire when" choices, API validation).

    Registering the same type twice with the same label is harmless; a different label is
    almost always two apps colliding on one name, so it raises.
    """
    if not isinstance(type, str) or not _EVENT_TYPE_PATTERN.fullmatch(type):
        raise ValueError(
            f"Event type {type!r} must be dotted lower-case words, e.g. 'customer.deleted'."
        )
    if len(type) > EVENT_TYPE_MAX_LENGTH:
        raise ValueError(f"Event type {type!r} is longer than {EVENT_TYPE_MAX_LENGTH} characters.")
    existing = _catalog.get(type)
    if existing is not None and str(existing.label) != str(label):
        raise ValueError(
            f"Event type {type!r} is already registered with the label {existing.label!r}."
        )
    event_type = EventType(type=type, label=label)
    _catalog[type] = event_type
    return event_type


def unregister_event(type: str) -> None:  # noqa: A002
    """Remove a type (tests, and apps that are switched off)."""
    _catalog.pop(type, None)


def get_event_types() -> list[EventType]:
    return list(_catalog.values())


def is_registered(type: str) -> bool:  # noqa: A002
    return type in _catalog


def label_for(type: str) -> str:  # noqa: A002
    event_type = _catalog.get(type)
    return str(event_type.label) if event_type else type


def choices() -> list[tuple[str, str | Promise]]:
    return [(event_type.type, event_type.label) for event_type in _catalog.values()]


for _type, _label in [
    (ORDER_CREATED, _("New order")),
    (ORDER_UPDATED, _("Order updated")),
    (ORDER_STATUS_CHANGED, _("Order status changed")),
    (ORDER_PAYMENT_STATUS_CHANGED, _("Payment status changed")),
    (ORDER_FULFILLMENT_STATUS_CHANGED, _("Fulfilment status changed")),
    (ORDER_DELETED, _("Order deleted")),
    (WEBHOOK_TEST, _("Test")),
]:
    register_event(_type, _label)
