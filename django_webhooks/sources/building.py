"""Building sources from the settings, and saying precisely what is wrong with one."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator, Mapping
from functools import cached_property as functools_cached_property
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.utils.functional import cached_property as django_cached_property
from django.utils.module_loading import import_string

from .. import events
from ..conf import webhook_settings
from .model import (
    ACTIONS,
    ITEMS_KEY,
    SEED_STATUS_FIELDS,
    SOURCE_KEYS,
    Related,
    Serializer,
    Source,
    SourceError,
    StatusField,
)


def configured() -> dict[str, Any]:
    """``SOURCES`` as written, or the one ``ORDER_MODEL`` stands for; ``{}`` when neither."""
    raw = webhook_settings.raw()
    if raw.get("SOURCES") is not None:
        return raw["SOURCES"] if isinstance(raw["SOURCES"], dict) else {}
    if raw.get("ORDER_MODEL"):
        return {
            "order": {
                "model": raw["ORDER_MODEL"],
                "serializer": raw.get("ORDER_SERIALIZER"),
                "status_fields": dict(SEED_STATUS_FIELDS),
            }
        }
    return {}


def build(prefix: Any, spec: Any) -> Source:
    """One source from its settings; raises :class:`SourceError` saying what is wrong."""
    where = f"WEBHOOKS['SOURCES'][{prefix!r}]"
    if not isinstance(prefix, str) or not events.PREFIX_PATTERN.fullmatch(prefix):
        raise SourceError(
            "E017", f"{where}: the prefix must be a lower-case word, e.g. 'order'.", ""
        )
    if not isinstance(spec, dict):
        raise SourceError("E017", f"{where} must be a dict with at least 'model'.")
    unknown = sorted(set(spec) - set(SOURCE_KEYS))
    if unknown:
        raise SourceError(
            "E019",
            f"{where} has unknown key(s): {', '.join(map(repr, unknown))}.",
            f"The keys are: {', '.join(SOURCE_KEYS)}.",
        )
    model = _model(spec.get("model"), f"{where}['model']", "E018")
    actions = spec.get("events", list(ACTIONS))
    if not isinstance(actions, list | tuple) or not set(actions) <= set(ACTIONS):
        raise SourceError(
            "E020", f"{where}['events'] = {actions!r} must be a subset of {list(ACTIONS)}."
        )
    ignore = spec.get("ignore_fields", [])
    if not isinstance(ignore, list | tuple) or not all(isinstance(name, str) for name in ignore):
        raise SourceError("E021", f"{where}['ignore_fields'] must be a list of field names.")
    for name in ignore:
        _concrete_field(model, name, f"{where}['ignore_fields']")
    statuses = tuple(_status_fields(prefix, model, spec.get("status_fields", {}), where))
    related = tuple(_related(model, spec.get("related", {}), where))
    items_key = spec.get("items", ITEMS_KEY)
    if not isinstance(items_key, str) or not items_key:
        raise SourceError("E029", f"{where}['items'] must name the field that holds the lines.")
    serializer_spec = spec.get("serializer")
    return Source(
        prefix=prefix,
        model=model,
        actions=frozenset(actions),
        ignore_fields=frozenset(ignore),
        status_fields=statuses,
        related=related,
        items_key=items_key,
        serializer_spec=serializer_spec,
        serializer=resolve_serializer(serializer_spec, f"{where}['serializer']"),
    )


def _model(label: Any, where: str, check_id: str) -> type[models.Model]:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError, TypeError, AttributeError):
        raise SourceError(
            check_id,
            f"{where} = {label!r} is not an installed model.",
            "Use 'app_label.ModelName' of a model in INSTALLED_APPS.",
        ) from None


def _concrete_field(model: type[models.Model], name: str, where: str) -> models.Field[Any, Any]:
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        found = None
    if not isinstance(found, models.Field) or not found.concrete:
        names = ", ".join(f.name for f in model._meta.concrete_fields)
        raise SourceError(
            "E021", f"{where}: {model._meta.label} has no field {name!r}.", f"Its fields: {names}."
        )
    return found


def _status_fields(
    prefix: str, model: type[models.Model], spec: Any, where: str
) -> Iterator[StatusField]:
    if not isinstance(spec, dict):
        raise SourceError("E022", f"{where}['status_fields'] must map names to event types.")
    for name, value in spec.items():
        event_type, getter = _type_and_getter(value, f"{where}['status_fields'][{name!r}]")
        if not isinstance(event_type, str) or not events.TYPE_PATTERN.fullmatch(event_type):
            raise SourceError(
                "E023", f"{where}['status_fields'][{name!r}] = {event_type!r} is not an event type."
            )
        if not event_type.startswith(prefix + "."):
            raise SourceError(
                "E023",
                f"{where}['status_fields'][{name!r}] = {event_type!r} is not a type of this "
                f"source: its types start with '{prefix}.'.",
                f"Use e.g. '{prefix}.{name}_changed'.",
            )
        if event_type in {f"{prefix}.{action}" for action in ACTIONS}:
            raise SourceError(
                "E023", f"{where}['status_fields'][{name!r}] = {event_type!r} is a built-in action."
            )
        if getter is not None:
            if not isinstance(name, str) or not events.PREFIX_PATTERN.fullmatch(name):
                raise SourceError(
                    "E022", f"{where}['status_fields']: {name!r} must be a lower-case name."
                )
            yield StatusField(name=name, event_type=event_type, attname=None, getter=getter)
            continue
        yield StatusField(
            name=name, event_type=event_type, attname=_status_attname(model, name, where)
        )


def _type_and_getter(value: Any, where: str) -> tuple[Any, Any]:
    """``"order.x_changed"``, or ``{"type": "order.x_changed", "value": "pkg.mod.function"}``."""
    if not isinstance(value, dict):
        return value, None
    unknown = sorted(set(value) - {"type", "value"})
    if unknown or "type" not in value or "value" not in value:
        raise SourceError(
            "E022",
            f"{where} must be an event type, or a dict with 'type' and 'value' (a function "
            "instance -> value, by dotted path).",
        )
    getter = value["value"]
    if isinstance(getter, str):
        try:
            getter = import_string(getter)
        except ImportError as error:
            raise SourceError("E022", f"{where}['value'] cannot be imported: {error}.") from None
    if not callable(getter):
        raise SourceError("E022", f"{where}['value'] = {value['value']!r} is not callable.")
    return value["type"], getter


def _status_attname(model: type[models.Model], name: Any, where: str) -> str | None:
    """The attname of a concrete field, None for a property or a no-argument method."""
    if not isinstance(name, str):
        raise SourceError("E022", f"{where}['status_fields']: {name!r} is not a name.")
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        found = None
    if isinstance(found, models.Field) and found.concrete:
        return found.attname
    attribute = inspect.getattr_static(model, name, None)
    if isinstance(attribute, property | functools_cached_property | django_cached_property):
        return None
    if inspect.isfunction(attribute):
        required = [
            parameter
            for parameter in list(inspect.signature(attribute).parameters.values())[1:]
            if parameter.default is inspect.Parameter.empty
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]
        if not required:
            return None
        raise SourceError(
            "E022",
            f"{where}['status_fields']: {model._meta.label}.{name}() needs arguments.",
            "A status is a field, a property or a method called without arguments.",
        )
    raise SourceError(
        "E022",
        f"{where}['status_fields']: {model._meta.label} has no field, property or method {name!r}.",
    )


def _related(model: type[models.Model], spec: Any, where: str) -> Iterator[Related]:
    if not isinstance(spec, dict):
        raise SourceError("E024", f"{where}['related'] must map model labels to lookup paths.")
    for label, path in spec.items():
        related_model = _model(label, f"{where}['related'][{label!r}]", "E024")
        first = _check_path(related_model, path, model, f"{where}['related'][{label!r}]")
        yield Related(
            model=related_model,
            path=path,
            first_attname=first.attname,
            first_model=first.related_model,
            rest=path.partition(LOOKUP_SEP)[2],
        )


def _check_path(
    start: type[models.Model], path: Any, target: type[models.Model], where: str
) -> Any:
    """Follow ``path`` from ``start`` through foreign keys to ``target``; the first hop."""
    if not isinstance(path, str) or not path:
        raise SourceError("E024", f"{where} = {path!r} must be a lookup path such as 'order'.")
    current, first = start, None
    for hop in path.split(LOOKUP_SEP):
        try:
            found = current._meta.get_field(hop)
        except FieldDoesNotExist:
            found = None
        if (
            found is None
            or not (found.many_to_one or found.one_to_one)
            or not found.concrete
            or found.related_model is None
        ):
            raise SourceError(
                "E024",
                f"{where} = {path!r}: {current._meta.label} has no foreign key {hop!r}.",
                f"The path goes from {start._meta.label} to {target._meta.label} through "
                "foreign keys, e.g. 'order' or 'shipment__order'.",
            )
        first = first or found
        current = found.related_model
    if current is not target:
        raise SourceError(
            "E024",
            f"{where} = {path!r} leads to {current._meta.label}, not to {target._meta.label}.",
        )
    return first


def resolve_serializer(spec: Any, where: str = "serializer") -> Serializer:
    if spec is None:
        return concrete_fields_snapshot
    try:
        target = import_string(spec) if isinstance(spec, str) else spec
    except ImportError as error:
        raise SourceError(
            "E027", f"{where} = {spec!r} cannot be imported: {error}.", _SERIALIZER_HINT
        ) from None
    if isinstance(target, type):
        from rest_framework.serializers import BaseSerializer

        if issubclass(target, BaseSerializer):
            return _DrfSerializer(target)
    elif callable(target):
        serializer: Serializer = target
        return serializer
    raise SourceError(
        "E027",
        f"{where} = {spec!r} is neither a DRF serializer class nor a callable.",
        _SERIALIZER_HINT,
    )


_SERIALIZER_HINT = "Give a dotted path to a DRF serializer class or to a function instance -> dict."


class _DrfSerializer:
    """A DRF serializer class as ``instance -> dict``, one serializer per thread reused for
    every instance, as DRF's ``many=True`` reuses its child: building a ModelSerializer's
    fields costs more than representing an instance (~1 ms per order otherwise)."""

    def __init__(self, serializer_class: type) -> None:
        self.serializer_class = serializer_class
        self._local = threading.local()

    def __call__(self, instance: models.Model) -> Mapping[str, Any]:
        serializer = getattr(self._local, "serializer", None)
        if serializer is None:
            serializer = self._local.serializer = self.serializer_class()
        data: Mapping[str, Any] = serializer.to_representation(instance)
        return data


def concrete_fields_snapshot(instance: models.Model) -> dict[str, Any]:
    """Every concrete field by name; a foreign key gives its primary key."""
    return {f.name: f.value_from_object(instance) for f in instance._meta.concrete_fields}
