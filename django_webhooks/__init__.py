"""django-webhooks: signed, retried, logged webhooks for Django stores.

The public API: :func:`register_event`, :func:`send_event`, :func:`update` and
:func:`bulk_saved`. Everything else is reached through settings, the admin and the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0.dev0"

__all__ = ["__version__", "bulk_saved", "register_event", "send_event", "update"]

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from django.db import models
    from django.utils.functional import Promise

    from .events import EventType
    from .models import Event


def register_event(
    type: str,  # noqa: A002
    label: str | Promise,
    *,
    schema: Mapping[str, Any] | None = None,
    example: Mapping[str, Any] | None = None,
) -> EventType:
    """Add an event type to the catalog; call it from an ``AppConfig.ready()``.

    ``schema``: a JSON Schema (2020-12) of the body's ``data``; ``example``: a ``data`` it
    accepts. An invalid schema, or an example it rejects, raises ValueError naming the type.
    """
    from .events import register_event as register

    return register(type, label, schema=schema, example=example)


def send_event(
    type: str,  # noqa: A002
    data: Mapping[str, Any] | None = None,
    *,
    instance: models.Model | None = None,
    using: str | None = None,
) -> Event | None:
    """Emit an event; it is delivered after the current transaction commits.

    ``data`` becomes the payload's ``data``. With ``instance`` (an object of an event
    source), ``data.object`` is that object as its source's serializer renders it from the
    committed rows, and ``data`` may add other keys. Returns None when no active webhook
    fires on ``type``.
    """
    from .recording.outbox import send_event as send

    return send(type, data, instance=instance, using=using)


def update(queryset: models.QuerySet[Any], **values: Any) -> int:
    """``queryset.update(**values)`` that fires the events saving each changed row would fire."""
    from .recording.bulk import update as bulk_update

    return bulk_update(queryset, **values)


def bulk_saved(
    instances: Iterable[models.Model],
    *,
    created: bool = False,
    update_fields: Sequence[str] | None = None,
) -> None:
    """Fire the events of a ``bulk_create`` (``created=True``) or ``bulk_update`` just made."""
    from .recording.bulk import bulk_saved as saved

    saved(instances, created=created, update_fields=update_fields)
