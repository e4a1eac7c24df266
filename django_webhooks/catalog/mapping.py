"""A source's ``data.object`` as JSON Schema, by drf-spectacular's own serializer mapping.

drf-spectacular already maps every DRF field to a schema (types, formats, enums, lengths,
nested serializers as components). It describes what an API *accepts and answers*; a payload
differs in three ways, adjusted here and nowhere else:

* every field a serializer renders is present (spectacular leaves fields with a model default
  out of ``required``), except one read through a relation that may be empty (DRF skips it);
* DRF writes ``null`` whenever the attribute is None, whatever the field says, so a field
  over a nullable column or relation is nullable;
* a field spectacular cannot type (an unannotated ``SerializerMethodField``) is any value,
  not the string it falls back to: no false precision.

Components come out as ``#/$defs/<name>`` (OpenAPI 3.1 mode: ``type: [..., "null"]``), so a
type's schema stands alone; :func:`rewrite_refs` turns them into OpenAPI components again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models

DEFS = "#/$defs/"
_SPECTACULAR_REFS = "#/components/schemas/"
#: drf-spectacular's enum bookkeeping, and readOnly: in a payload every field is the sender's.
_PRIVATE_KEYS = ("x-spec-enum-id", "readOnly")
UNDECLARED = "Not declared by its serializer: any JSON value."

Schema = dict[str, Any]


class Mapper:
    """Maps serializers of one catalog; components shared by several types are mapped once."""

    def __init__(self) -> None:
        from drf_spectacular.plumbing import ComponentRegistry

        self.registry = ComponentRegistry()
        self._by_class: dict[Any, Schema] = {}

    def serializer(self, serializer_class: type) -> Schema:
        """A ``$ref`` to the component of ``serializer_class`` (its fields as rendered)."""
        if serializer_class not in self._by_class:
            with _spectacular_31():
                auto_schema = _auto_schema(self.registry)
                component = auto_schema.resolve_serializer(serializer_class, "response")
            self._by_class[serializer_class] = (
                _clean(component.ref) if component.name else {"type": "object"}
            )
        return copy.deepcopy(self._by_class[serializer_class])

    def fields(self, model: type[models.Model], names: list[str]) -> dict[str, Schema]:
        """The schema of each concrete field by name, as a model instance holds its value."""
        if not names:
            return {}
        serializer_class = concrete_serializer(model, names, f"{model.__name__}Fields")
        with _spectacular_31():
            from drf_spectacular.plumbing import ComponentRegistry

            auto_schema = _auto_schema(ComponentRegistry())
            schema = auto_schema._map_basic_serializer(serializer_class(), "response")
        return {name: _clean(value) for name, value in schema["properties"].items()}

    def field_of(self, serializer_class: type, name: str) -> Schema | None:
        """The schema of one rendered field of a serializer, if it has one of that name."""
        component = self.defs().get(self.serializer(serializer_class).get("$ref", "")[len(DEFS) :])
        if not component:
            return None
        found = component.get("properties", {}).get(name)
        return copy.deepcopy(found) if found is not None else None

    def defs(self) -> dict[str, Schema]:
        built = self.registry.build({}).get("schemas", {})
        return {name: _clean(schema) for name, schema in built.items()}


def concrete_serializer(model: type[models.Model], names: list[str], name: str) -> type:
    """A ModelSerializer of ``names``: what the default snapshot (every concrete field) holds."""
    from rest_framework import serializers

    meta = type("Meta", (), {"model": model, "fields": list(names), "ref_name": name})
    return type(f"{name}Serializer", (serializers.ModelSerializer,), {"Meta": meta})


def resolve(ref: str, defs: dict[str, Any]) -> Any:
    """What a ``#/$defs/…`` reference points at (None when it points elsewhere or nowhere)."""
    if not ref.startswith(DEFS):
        return None
    target: Any = {"$defs": defs}
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            return None
    return target


def rewrite_refs(schema: Any, rename: Callable[[str], str]) -> Any:
    """A copy of ``schema`` whose local ``$ref`` values are ``rename(ref)``."""
    if isinstance(schema, dict):
        return {
            key: rename(value)
            if key == "$ref" and isinstance(value, str)
            else rewrite_refs(value, rename)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [rewrite_refs(item, rename) for item in schema]
    return schema


def refs_in(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from refs_in(item)


def _clean(schema: Any) -> Any:
    """Spectacular's output as plain JSON Schema: ``$defs`` refs, ``anyOf``, no bookkeeping.

    ``oneOf`` becomes ``anyOf``: spectacular writes a blank-able email as "an email, or a
    string of length 0", and without format assertion (the 2020-12 default) "" is both, which
    ``oneOf`` would refuse.
    """
    if isinstance(schema, dict):
        cleaned = {}
        for key, value in schema.items():
            if key in _PRIVATE_KEYS:
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith(_SPECTACULAR_REFS):
                cleaned[key] = DEFS + value[len(_SPECTACULAR_REFS) :]
            else:
                cleaned["anyOf" if key == "oneOf" else key] = _clean(value)
        return cleaned
    if isinstance(schema, list):
        return [_clean(item) for item in schema]
    return schema


class _Spectacular31:
    def __enter__(self) -> None:
        from drf_spectacular.drainage import GENERATOR_STATS
        from drf_spectacular.settings import patched_settings

        self._settings = patched_settings({"OAS_VERSION": "3.1.0"})
        self._settings.__enter__()
        self._silence = GENERATOR_STATS.silence()
        self._silence.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self._silence.__exit__(*exc_info)
        self._settings.__exit__(*exc_info)


def _spectacular_31() -> _Spectacular31:
    return _Spectacular31()


def _auto_schema(registry: Any) -> Any:
    from drf_spectacular.plumbing import build_mocked_view
    from drf_spectacular.utils import extend_schema

    view = build_mocked_view("GET", "/", extend_schema(), registry)
    auto_schema = _payload_auto_schema_class()()
    auto_schema.registry = registry
    auto_schema.view = view
    auto_schema.path = auto_schema.path_regex = "/"
    auto_schema.path_prefix = ""
    auto_schema.method = "GET"
    return auto_schema


_auto_schema_class: type | None = None


def _payload_auto_schema_class() -> type:
    """drf-spectacular's AutoSchema with the payload's adjustments (built on first use)."""
    global _auto_schema_class
    if _auto_schema_class is None:
        _auto_schema_class = _build_payload_auto_schema_class()
    return _auto_schema_class


def _build_payload_auto_schema_class() -> type:
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.openapi import AutoSchema
    from drf_spectacular.plumbing import force_instance
    from rest_framework import serializers

    class PayloadAutoSchema(AutoSchema):
        def _map_basic_serializer(self, serializer: Any, direction: str) -> Schema:
            serializer = force_instance(serializer)
            model = getattr(getattr(serializer, "Meta", None), "model", None)
            may_be_missing = set()
            for field in serializer.fields.values():
                nullable, missing = _may_be_none(model, field)
                if nullable:
                    field.allow_null = True
                if missing:
                    may_be_missing.add(field.field_name)
                if isinstance(field, serializers.DecimalField):
                    # However the field renders it, the payload's JSON encoder writes a Decimal
                    # as text (payloads.to_json_compatible).
                    field.coerce_to_string = True
            schema: Schema = super()._map_basic_serializer(serializer, direction)
            schema["required"] = [
                name for name in schema.get("properties", {}) if name not in may_be_missing
            ]
            if not schema["required"]:
                del schema["required"]
            return schema

        def _map_serializer_field(
            self, field: Any, direction: str, bypass_extensions: bool = False
        ) -> Any:
            warnings = dict(GENERATOR_STATS._warn_cache)
            errors = dict(GENERATOR_STATS._error_cache)
            schema = super()._map_serializer_field(field, direction, bypass_extensions)
            if GENERATOR_STATS._warn_cache != warnings or GENERATOR_STATS._error_cache != errors:
                # Spectacular guessed (a string, mostly): say honestly that nobody knows.
                GENERATOR_STATS._warn_cache.clear()
                GENERATOR_STATS._warn_cache.update(warnings)
                GENERATOR_STATS._error_cache.clear()
                GENERATOR_STATS._error_cache.update(errors)
                return {"description": UNDECLARED}
            return schema

    return PayloadAutoSchema


def _may_be_none(model: type[models.Model] | None, field: Any) -> tuple[bool, bool]:
    """(may render null, may be left out) for a serializer field over ``model``'s instances."""
    source = getattr(field, "source", None)
    if model is None or not isinstance(source, str) or source == "*" or field.allow_null:
        return False, False
    current: type[models.Model] | None = model
    hops = source.split(".")
    for position, attr in enumerate(hops):
        if current is None:
            return False, False
        try:
            model_field = current._meta.get_field(attr)
        except FieldDoesNotExist:
            return False, False  # a property or method: its value is its own business
        last = position == len(hops) - 1
        if model_field.many_to_many or model_field.one_to_many:
            return False, False  # a manager: a list, maybe empty, never null
        if model_field.one_to_one and not model_field.concrete:
            return True, False  # a reverse one-to-one: DRF renders a missing one as null
        if getattr(model_field, "null", False):
            return (True, False) if last else (True, True)
        current = model_field.related_model if model_field.is_relation else None
    return False, False
