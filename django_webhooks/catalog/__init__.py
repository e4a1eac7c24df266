"""The event catalog as a contract: per type, a JSON Schema of the body, an example, an XSD.

Generated from the code that renders the payloads (the sources' serializers through
drf-spectacular's mapping, the envelope, the XML renderer's rules), so it cannot drift from
what is sent: the integration tests validate every body a real qcluster delivers against it.

``entries()`` is the catalog (``GET /api/event-types/``), ``entry(type)`` one type,
``xsd(type)`` its XML Schema. Built on first use after a settings change or a registration,
for the active language (labels are translated).
"""

from __future__ import annotations

import threading
from typing import Any

from django.utils import translation

from .. import events, sources
from .schemas import EXAMPLE_EVENT_ID, Entry, build, component_name

__all__ = ["EXAMPLE_EVENT_ID", "Entry", "component_name", "entries", "entry", "xsd"]

_cache: dict[str, Any] = {}
# Building patches drf-spectacular's (global) settings for a moment: one thread at a time.
_lock = threading.RLock()


def entries() -> list[Entry]:
    """Every type of the catalog, in its order."""
    key = (
        sources.all_sources(),
        tuple(events.get_event_types()),
        translation.get_language(),
    )
    with _lock:
        cached = _cache.get("entries")
        if cached is None or not _same(cached[0], key):
            cached = (key, build(), {})
            _cache["entries"] = cached
        return cached[1]


def entry(event_type: str) -> Entry | None:
    return next((found for found in entries() if found.type == event_type), None)


def xsd(event_type: str) -> str | None:
    """The XML Schema every XML body of ``event_type`` validates against; None: unknown type."""
    with _lock:
        found = entry(event_type)
        if found is None:
            return None
        documents = _cache["entries"][2]
        if event_type not in documents:
            from .xmlschema import xml_schema

            documents[event_type] = xml_schema(found.schema)
        document: str = documents[event_type]
        return document


def _same(cached: tuple[Any, ...], current: tuple[Any, ...]) -> bool:
    # The sources are rebuilt (a new dict) whenever WEBHOOKS changes.
    return cached[0] is current[0] and cached[1:] == current[1:]
