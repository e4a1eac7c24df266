"""An example value for a JSON Schema: deterministic, readable, and valid against it.

Enough of JSON Schema for what the catalog's schemas use (drf-spectacular's mapping and the
envelope): types, ``$ref``, ``anyOf``/``oneOf``/``allOf``, ``const``, ``enum``, formats,
lengths, bounds and the patterns spectacular writes for decimals. The catalog checks every
example against its schema, so a schema this cannot satisfy is caught by the tests, not
shipped.
"""

from __future__ import annotations

import re
from typing import Any

from .mapping import resolve

EXAMPLE_MOMENT = "2026-11-28T09:30:00Z"

_FORMATS: dict[str, str] = {
    "date-time": EXAMPLE_MOMENT,
    "date": "2026-11-28",
    "time": "09:30:00Z",
    "email": "ada@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "2b0a8c4e-6d1f-4f4e-9a57-0c1d2e3f4a5b",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
    "duration": "P1D",
}
_DECIMALS = ("12.90", "12.9", "12", "0.12", "0")
_MAX_DEPTH = 12


def example_for(schema: Any, defs: dict[str, Any], name: str = "value", depth: int = 0) -> Any:
    """A value valid against ``schema`` (``defs``: its ``$defs``); ``name`` hints at strings."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None if schema is False else {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        values = [value for value in schema["enum"] if value is not None]
        return values[0] if values else None
    for key in ("examples",):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    if "$ref" in schema:
        return example_for(resolve(schema["$ref"], defs) or {}, defs, name, depth + 1)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            branches = [b for b in schema[key] if not (isinstance(b, dict) and _only_null(b))]
            return example_for((branches or schema[key])[0], defs, name, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part if isinstance(part, dict) else {})
        rest = {key: value for key, value in schema.items() if key != "allOf"}
        return example_for({**merged, **rest}, defs, name, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        properties = schema.get("properties", {})
        # What is always there, and as much more as minProperties asks for.
        required = [key for key in schema.get("required", []) if isinstance(key, str)]
        chosen = [key for key in properties if key in required]
        chosen += [key for key in required if key not in properties]
        for key in properties:
            if len(chosen) >= int(schema.get("minProperties", 0)):
                break
            if key not in chosen:
                chosen.append(key)
        return {key: example_for(properties.get(key, {}), defs, key, depth + 1) for key in chosen}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example_for(schema.get("items", {}), defs, name, depth + 1)] * count
    if kind == "string":
        return _string(schema, name)
    if kind == "integer":
        return _number(schema, 1)
    if kind == "number":
        return _number(schema, 1.5)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return {}


def _only_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or schema.get("const", 0) is None


def _type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [item for item in kind if item != "null"]
        return kinds[0] if kinds else "null"
    if kind is None and "properties" in schema:
        return "object"
    return kind


def _string(schema: dict[str, Any], name: str) -> str:
    fmt = schema.get("format")
    if fmt == "decimal":
        candidates = list(_DECIMALS)
    elif fmt in _FORMATS:
        candidates = [_FORMATS[fmt]]
    else:
        candidates = [name, "example", "x", ""]
    pattern = schema.get("pattern")
    lowest, highest = int(schema.get("minLength", 0)), schema.get("maxLength")
    for candidate in candidates:
        if highest is not None:
            candidate = candidate[: int(highest)]
        candidate = candidate.ljust(lowest, "x")
        if pattern is None or re.search(pattern, candidate):
            return candidate
    return candidates[0]


def _number(schema: dict[str, Any], preferred: float) -> Any:
    value = preferred
    lowest = schema.get("minimum", schema.get("exclusiveMinimum"))
    highest = schema.get("maximum", schema.get("exclusiveMaximum"))
    if lowest is not None and value <= lowest:
        value = lowest + (1 if "exclusiveMinimum" in schema else 0)
    if highest is not None and value >= highest:
        value = highest - (1 if "exclusiveMaximum" in schema else 0)
    return value
