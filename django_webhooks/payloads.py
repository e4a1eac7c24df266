"""The envelope a destination receives, rendered as JSON or XML bytes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from xml.etree import ElementTree

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.dateparse import parse_datetime

JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)
CONTENT_TYPES = {
    JSON: "application/json; charset=utf-8",
    XML: "application/xml; charset=utf-8",
}

# XML 1.0 cannot carry these code points at all, not even escaped; nor can UTF-8 carry a
# lone surrogate (which Python strings, and so JSON from a careless source, may hold).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class RenderableEvent(Protocol):
    pk: Any
    type: str
    created_at: datetime
    sequence: int | None
    data: Any


def envelope(
    event_id: str, event_type: str, created_at: datetime, data: Any, sequence: int | None = None
) -> dict[str, Any]:
    """The body's tree: ``sequence`` numbers the events of one object (None: no object)."""
    return {
        "id": event_id,
        "type": event_type,
        "created_at": timestamp(created_at),
        "sequence": sequence,
        "data": data,
    }


def render_event(event: RenderableEvent, fmt: str, object_override: Any = None) -> bytes:
    """The body one attempt sends: the event, with the object its webhook's filter left."""
    data = event.data
    if object_override is not None:
        data = {**data, "object": object_override}
    return render(envelope(event.pk, event.type, event.created_at, data, event.sequence), fmt)


def timestamp(moment: datetime) -> str:
    """``2026-11-28T01:02:03Z``: RFC 3339, UTC, to the second. Every datetime in a payload."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PayloadJSONEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder, with datetimes as :func:`timestamp` writes them."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return timestamp(o)
        return super().default(o)


# A datetime as a serializer (DRF's DateTimeField, a store's own code) writes it out.
_DATETIME_TEXT = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})", re.ASCII
)


def to_json_compatible(value: Any) -> Any:
    """What ``value`` looks like after a JSON round trip (Decimal, date, UUID → strings).

    Datetimes, as objects or as text with a time zone (what DRF writes), come out in the one
    payload format of :func:`timestamp`. Raises TypeError for what JSON cannot carry, NaN and
    infinities included.
    """
    try:
        encoded = json.dumps(value, cls=PayloadJSONEncoder, allow_nan=False)
    except ValueError as error:  # nan, inf: no JSON number
        raise TypeError(str(error)) from error
    decoded = json.loads(encoded)
    # Walk the value only when some text in it may be a datetime (this runs on every save).
    return _normalise_datetimes(decoded) if _DATETIME_TEXT.search(encoded) else decoded


def _normalise_datetimes(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) >= 20 and _DATETIME_TEXT.fullmatch(value):
            parsed = parse_datetime(value.replace(" ", "T", 1))
            if parsed is not None and parsed.tzinfo is not None:
                return timestamp(parsed)
        return value
    if isinstance(value, dict):
        return {key: _normalise_datetimes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise_datetimes(item) for item in value]
    return value


def render(document: Mapping[str, Any], fmt: str) -> bytes:
    if fmt == XML:
        return render_xml(document)
    text = json.dumps(document, cls=PayloadJSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def render_xml(document: Mapping[str, Any], root: str = "event") -> bytes:
    element = ElementTree.Element(root)
    _fill(element, document)
    # ElementTree leaves a carriage return in text as is, and every parser reads it back as
    # a line feed; as a character reference it survives.
    text: bytes = ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)
    return text.replace(b"\r", b"&#13;")


def _fill(element: ElementTree.Element, value: Any) -> None:
    if value is None:
        element.set("nil", "true")
    elif isinstance(value, Mapping):
        if not value:
            element.set("type", "object")  # else {} and "" would both be <key />
        for key, child_value in value.items():
            key = str(key)
            if _XML_NAME.fullmatch(key) and not key.lower().startswith("xml"):
                child = ElementTree.SubElement(element, key)
            else:
                child = ElementTree.SubElement(element, "entry", key=_clean(key))
            _fill(child, child_value)
    elif isinstance(value, list | tuple):
        element.set("type", "list")
        for item in value:
            _fill(ElementTree.SubElement(element, "item"), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _clean(value if isinstance(value, str) else _scalar(value))


def _scalar(value: Any) -> str:
    encoded = json.loads(json.dumps(value, cls=PayloadJSONEncoder))
    return encoded if isinstance(encoded, str) else json.dumps(encoded)


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", text)
