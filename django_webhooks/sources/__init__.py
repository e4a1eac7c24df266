"""Event sources: the store's models whose changes are events (``WEBHOOKS["SOURCES"]``).

A source maps one model onto a prefix: its inserts, changes and deletes fire
``<prefix>.created`` / ``.updated`` / ``.deleted``, and a change of one of its
``status_fields`` (a field, a property or a no-argument method) fires that field's type.
``related`` models are the rows a derived status value is computed from (payments,
shipment lines): their saves and deletes re-evaluate it. ``ORDER_MODEL`` is the shorthand
for one source, ``order``, with the three seed status fields.

The settings are read when first needed after start-up or a settings change, never at import;
a source that cannot be built is left out here and reported by the system checks
(:mod:`django_webhooks.checks.sources`), so a typo never crashes a request.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from .building import build, concrete_fields_snapshot, configured, resolve_serializer
from .model import (
    ACTIONS,
    ITEMS_KEY,
    LOADED,
    SEED_STATUS_FIELDS,
    Related,
    Source,
    SourceError,
    StatusField,
)

__all__ = [
    "ACTIONS",
    "ITEMS_KEY",
    "LOADED",
    "SEED_STATUS_FIELDS",
    "Related",
    "Source",
    "SourceError",
    "StatusField",
    "all_sources",
    "build",
    "check_webhook_filter",
    "concrete_fields_snapshot",
    "configured",
    "event_types",
    "for_label",
    "for_model",
    "related_to",
    "reset",
    "resolve_serializer",
]

_built: dict[str, Source] | None = None
_by_model: dict[type[models.Model], Source] = {}
_by_label: dict[str, Source] = {}
_by_related_model: dict[type[models.Model], list[tuple[Source, Related]]] = {}


def all_sources() -> dict[str, Source]:
    """The sources that could be built, by prefix (the others are the checks' business)."""
    global _built
    if _built is None:
        built: dict[str, Source] = {}
        _by_model.clear()
        _by_label.clear()
        _by_related_model.clear()
        for prefix, spec in configured().items():
            try:
                source = build(prefix, spec)
            except SourceError:
                continue
            if source.model in _by_model:
                continue  # a model of two sources: check E025
            built[prefix] = _by_model[source.model] = _by_label[source.label] = source
            for related in source.related:
                _by_related_model.setdefault(related.model, []).append((source, related))
        _built = built
    return _built


def reset() -> None:
    """Forget the built sources (settings changed)."""
    global _built
    _built = None


def for_model(model: type[models.Model]) -> Source | None:
    """The source of ``model``, or of the model it is a proxy of."""
    all_sources()
    concrete = model._meta.concrete_model
    return _by_model.get(model) or (_by_model.get(concrete) if concrete else None)


def for_label(label: str) -> Source | None:
    all_sources()
    return _by_label.get(label)


def related_to(model: type[models.Model]) -> list[tuple[Source, Related]]:
    """The sources whose status values rows of ``model`` are part of, with the path."""
    all_sources()
    concrete = model._meta.concrete_model
    return _by_related_model.get(model) or (_by_related_model.get(concrete, []) if concrete else [])


def check_webhook_filter(spec: Any, event_types: list[str]) -> None:
    """Raise ValidationError if the filter names what a subscribed source's payload lacks."""
    from .shapes import check_filter

    check_filter(spec, list(event_types or []), list(all_sources().values()))


def event_types() -> list[tuple[str, Any]]:
    """``(type, label)`` of every type the sources can fire (the catalog's provider)."""
    found: dict[str, Any] = {}
    for source in all_sources().values():
        for event_type, label in source.event_types():
            found.setdefault(event_type, label)
    return list(found.items())
