"""django-webhooks: signed, retried, logged webhooks for Django stores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "register_event", "send_event"]

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.utils.functional import Promise

    from .events import EventType
    from .models import Event


def register_event(type: str, label: str | Promise) -> EventType:  # noqa: A002
    """Add an event type to the catalog; call it from an ``AppConfig.ready()``."""
    from .events import register_event as register

    return register(type, label)


def send_event(type: str, data: Mapping[str, Any], *, using: str = "default") -> Event | None:  # noqa: A002
    """Emit an event; it is delivered after the current transaction commits."""
    from .recording.outbox import send_event as send

    return send(type, data, using=using)
