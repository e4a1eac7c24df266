"""What a source is: a model, its prefix, its status fields and related rows; its labels."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property as functools_cached_property
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .. import events, payloads
from . import prefetch

ACTIONS = ("created", "updated", "deleted")
#: On an instance of a source model: its field values as loaded or last saved, by attname.
LOADED = "_django_webhooks_loaded"
ITEMS_KEY = "items"
SOURCE_KEYS = (
    "model",
    "serializer",
    "events",
    "ignore_fields",
    "status_fields",
    "related",
    "items",
)

#: ``ORDER_MODEL``'s meaning: the seed's three status fields.
SEED_STATUS_FIELDS = {
    "status": events.ORDER_STATUS_CHANGED,
    "payment_status": events.ORDER_PAYMENT_STATUS_CHANGED,
    "fulfillment_status": events.ORDER_FULFILLMENT_STATUS_CHANGED,
}

Serializer = Callable[[models.Model], Mapping[str, Any]]


class SourceError(ValueError):
    """A source that cannot be built; ``check_id`` names the system check that reports it."""

    def __init__(self, check_id: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.check_id, self.hint = check_id, hint


@dataclass(frozen=True)
class StatusField:
    name: str
    event_type: str
    #: The concrete field's attname; None: a property or method, evaluated on a fresh instance.
    attname: str | None
    #: A function ``instance -> value`` given by dotted path, for a model the store cannot
    #: add a property to (a framework's, such as django-oscar's Order).
    getter: Callable[[models.Model], Any] | None = field(default=None, compare=False)

    @property
    def derived(self) -> bool:
        return self.attname is None


@dataclass(frozen=True)
class Related:
    """Rows of ``model`` lead to the source's instances along ``path`` (``shipment__order``).

    Each hop is a foreign key (or one-to-one) of the model it starts from.
    """

    model: type[models.Model]
    path: str
    #: The first hop's attname on ``model`` (``order_id``, ``shipment_id``).
    first_attname: str
    #: Where the first hop leads, and the rest of the path from there ("" when one hop).
    first_model: type[models.Model]
    rest: str


@dataclass(frozen=True)
class Source:
    prefix: str
    model: type[models.Model]
    actions: frozenset[str]
    ignore_fields: frozenset[str]
    status_fields: tuple[StatusField, ...]
    related: tuple[Related, ...]
    items_key: str
    serializer_spec: Any = None
    serializer: Serializer = field(compare=False, repr=False, default=None)  # type: ignore[assignment]

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    def type_of(self, action: str) -> str:
        return f"{self.prefix}.{action}"

    @functools_cached_property
    def remembered_fields(self) -> tuple[models.Field[Any, Any], ...]:
        """The fields an instance remembers as loaded (all but the key and auto_now ones)."""
        return tuple(
            f
            for f in self.model._meta.concrete_fields
            if not f.primary_key and not getattr(f, "auto_now", False)
        )

    @functools_cached_property
    def remembered_attnames(self) -> tuple[str, ...]:
        return tuple(f.attname for f in self.remembered_fields)

    @functools_cached_property
    def tracked_fields(self) -> tuple[models.Field[Any, Any], ...]:
        """The fields whose changes make an ``updated`` event (and a ``previous``)."""
        ignored = self.ignore_fields
        return tuple(
            f for f in self.remembered_fields if f.name not in ignored and f.attname not in ignored
        )

    @functools_cached_property
    def derived_status_fields(self) -> tuple[StatusField, ...]:
        return tuple(status for status in self.status_fields if status.derived)

    def event_types(self) -> Iterator[tuple[str, Any]]:
        """``(type, label)`` of every type this source can fire, in the catalog's order."""
        verbose = self.model._meta.verbose_name
        for action in ("created", "updated"):
            if action in self.actions:
                yield self.type_of(action), _generated_label(self.type_of(action), verbose, action)
        for status in self.status_fields:
            yield status.event_type, _status_label(status.event_type, self.model, status.name)
        if "deleted" in self.actions:
            yield (
                self.type_of("deleted"),
                _generated_label(self.type_of("deleted"), verbose, "deleted"),
            )

    @functools_cached_property
    def prefetch_lookups(self) -> tuple[str, ...]:
        """The relations its serializer follows, when it is a DRF serializer (else none)."""
        serializer_class = getattr(self.serializer, "serializer_class", None)
        if serializer_class is None:
            return ()
        try:
            return prefetch.related_lookups(serializer_class(), self.model)
        except Exception:  # noqa: BLE001 - the serializer's own fault shows when it runs
            return ()

    def prefetch(self, instances: Sequence[models.Model]) -> None:
        """Fetch what its serializer reads of ``instances``' related rows, for all at once."""
        prefetch.prefetch(instances, self.prefetch_lookups)

    def snapshot(self, instance: models.Model) -> dict[str, Any]:
        """``data.object`` for ``instance``: the source's serializer, JSON-compatible."""
        snapshot: dict[str, Any] = payloads.to_json_compatible(dict(self.serializer(instance)))
        return snapshot

    def status_values(
        self, instance: models.Model, statuses: tuple[StatusField, ...]
    ) -> dict[str, Any]:
        """The current values of ``statuses`` on ``instance``, JSON-compatible, by name."""
        values: dict[str, Any] = {}
        for status in statuses:
            if status.getter is not None:
                value = status.getter(instance)
            else:
                value = getattr(instance, status.attname or status.name)
                if status.derived and callable(value):
                    value = value()
            values[status.name] = value
        compatible: dict[str, Any] = payloads.to_json_compatible(values)
        return compatible


def _generated_label(event_type: str, verbose_name: Any, action: str) -> Any:
    if event_type in events.BUILTIN_LABELS:
        return events.BUILTIN_LABELS[event_type]
    templates = {
        "created": _("{model} created"),
        "updated": _("{model} updated"),
        "deleted": _("{model} deleted"),
    }
    return format_lazy(templates[action], model=_Capitalised(verbose_name))


def _status_label(event_type: str, model: type[models.Model], name: str) -> Any:
    if event_type in events.BUILTIN_LABELS:
        return events.BUILTIN_LABELS[event_type]
    try:
        what = getattr(model._meta.get_field(name), "verbose_name", name)
    except FieldDoesNotExist:
        what = name.replace("_", " ")
    return format_lazy(
        _("{model} {field} changed"), model=_Capitalised(model._meta.verbose_name), field=what
    )


class _Capitalised:
    def __init__(self, text: Any) -> None:
        self.text = text

    def __str__(self) -> str:
        text = str(self.text)
        return text[:1].upper() + text[1:]
