"""What ``data.object`` holds for a model instance: ORDER_SERIALIZER, or every concrete field."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.module_loading import import_string

from . import payloads
from .conf import webhook_settings

Serializer = Callable[[models.Model], dict[str, Any]]


def order_model() -> type[models.Model] | None:
    label = webhook_settings.ORDER_MODEL
    if not label:
        return None
    return apps.get_model(label)


def model_label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def concrete_fields_snapshot(instance: models.Model) -> dict[str, Any]:
    """Every concrete field by name; a foreign key gives its primary key."""
    return {
        field.name: field.value_from_object(instance) for field in instance._meta.concrete_fields
    }


@lru_cache(maxsize=8)
def _resolve(spec: str | type | Callable | None) -> Serializer:
    if spec is None:
        return concrete_fields_snapshot
    target = import_string(spec) if isinstance(spec, str) else spec
    if isinstance(target, type):
        from rest_framework.serializers import BaseSerializer

        if issubclass(target, BaseSerializer):
            return lambda instance: dict(target(instance).data)
    if callable(target):
        return target
    raise TypeError(f"ORDER_SERIALIZER {spec!r} is neither a DRF serializer nor a callable.")


def order_snapshot(instance: models.Model) -> dict[str, Any]:
    """``data.object`` for an order, JSON-compatible."""
    serializer = _resolve(webhook_settings.ORDER_SERIALIZER)
    return payloads.to_json_compatible(serializer(instance))
