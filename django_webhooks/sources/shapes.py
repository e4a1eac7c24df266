"""What a source's ``data.object`` holds, as far as its serializer says, to check filters with.

A filter that names a field the payload does not have would silently hold back every event
(``items`` on a store whose lines are called ``lines``, ``customer.email`` where the
customer is only an id). The shape comes from the DRF serializer's fields, or from the
model's concrete fields by default; a callable serializer says nothing about its output, so
filters on its sources are not checked.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .. import filters
from .building import _DrfSerializer, concrete_fields_snapshot
from .model import Source

#: A value with nothing below it (a string, a number, an id).
LEAF = "leaf"
#: A value whose inside nobody declared (a JSONField, a SerializerMethodField): anything goes.
ANY = "any"

Shape = dict[str, Any]


def payload_shape(source: Source) -> Shape | None:
    """``{field: LEAF | ANY | Shape | [Shape]}``; None when the serializer is a callable."""
    if source.serializer is concrete_fields_snapshot:
        return {field.name: LEAF for field in source.model._meta.concrete_fields}
    if isinstance(source.serializer, _DrfSerializer):
        return _serializer_shape(source.serializer.serializer_class())
    return None


def _serializer_shape(serializer: Any) -> Shape:
    return {name: _field_shape(field) for name, field in serializer.fields.items()}


def _field_shape(field: Any) -> Any:
    from rest_framework import serializers

    if isinstance(field, serializers.ListSerializer):
        child = field.child
        return [_serializer_shape(child)] if isinstance(child, serializers.Serializer) else ANY
    if isinstance(field, serializers.Serializer):
        return _serializer_shape(field)
    if isinstance(field, serializers.ListField | serializers.DictField | serializers.JSONField):
        return ANY
    if isinstance(field, serializers.SerializerMethodField | serializers.ReadOnlyField):
        return ANY
    return LEAF


def check_filter(spec: Any, event_types: list[str], sources: list[Source]) -> None:
    """Raise ValidationError if ``spec`` names something a subscribed source's payload lacks."""
    if not isinstance(spec, dict) or not spec:
        return
    messages: list[str] = []
    for source in sources:
        if not any(event_type in dict(source.event_types()) for event_type in event_types):
            continue
        shape = payload_shape(source)
        if shape is None:
            continue
        what = source.model._meta.verbose_name
        for path in _paths(spec.get("object")):
            problem = _missing(shape, path)
            if problem:
                messages.append(
                    _("object.%(path)s: the %(what)s payload has no %(problem)s.")
                    % {"path": path, "what": what, "problem": problem}
                )
        if filters.ITEMS_KEY in spec:
            lines = shape.get(source.items_key)
            if lines is None:
                messages.append(
                    _(
                        "items: the %(what)s payload has no lines (its source reads them from "
                        "“%(key)s”, which it does not have)."
                    )
                    % {"what": what, "key": source.items_key}
                )
            elif isinstance(lines, list):
                for path in _paths(spec.get(filters.ITEMS_KEY)):
                    problem = _missing(lines[0], path)
                    if problem:
                        messages.append(
                            _("items.%(path)s: the %(what)s lines have no %(problem)s.")
                            % {"path": path, "what": what, "problem": problem}
                        )
    if messages:
        raise ValidationError(list(dict.fromkeys(messages)))


def _paths(section: Any) -> list[str]:
    return [path for path in section if isinstance(path, str)] if isinstance(section, dict) else []


def _missing(shape: Any, path: str) -> str | None:
    """What of ``path`` the shape lacks, in words; None when it is there (or may be)."""
    current = shape
    walked: list[str] = []
    for name in path.split("."):
        if current == ANY:
            return None
        if not isinstance(current, dict):
            return _("field “%(name)s” under “%(parent)s” (a plain value)") % {
                "name": name,
                "parent": ".".join(walked),
            }
        if name not in current:
            known = ", ".join(sorted(current))
            return _("field “%(name)s” (it has: %(known)s)") % {"name": name, "known": known}
        walked.append(name)
        current = current[name]
    return None
