"""Per-webhook filters: which events a webhook gets, and which order lines it sees.

A filter is a small JSON document, checked when it is saved and compiled once::

    {
      "object": {"status": {"in": ["paid", "complete"]}, "customer.email": {"exists": true}},
      "items":  {"supplier": "acme", "sku": {"prefix": "AC-"}}
    }

``object`` holds conditions on ``data.object`` (all must hold, or the webhook gets nothing);
``items`` holds conditions on each line of ``data.object.items``: only matching lines are
sent, and when none remains the webhook gets nothing. A condition is a value (equals), or
``{"equals": v}``, ``{"in": [v, ...]}`` (one of), ``{"exists": true|false}`` (the path holds
a value other than null, or not) or ``{"prefix": "text"}`` (a string starting with it).
Paths are dotted names into nested objects: ``customer.email``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

ITEMS_KEY = "items"
OPERATORS = ("equals", "in", "exists", "prefix")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MISSING = object()

Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Decision:
    """What a filter decided for one event: send it or not, and the object to send."""

    deliver: bool
    object_override: dict[str, Any] | None = None  # None: the event's own data.object


@dataclass(frozen=True)
class CompiledFilter:
    object_conditions: tuple[Predicate, ...]
    item_conditions: tuple[Predicate, ...] | None  # None: no item filter

    def decide(self, data: Any, items_key: str = ITEMS_KEY) -> Decision:
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            obj = {}
        if not all(condition(obj) for condition in self.object_conditions):
            return Decision(deliver=False)
        if self.item_conditions is None:
            return Decision(deliver=True)
        items = obj.get(items_key)
        if not isinstance(items, list):
            return Decision(deliver=False)
        kept = [
            item
            for item in items
            if isinstance(item, dict) and all(condition(item) for condition in self.item_conditions)
        ]
        if not kept:
            return Decision(deliver=False)
        if len(kept) == len(items):
            return Decision(deliver=True)
        return Decision(deliver=True, object_override={**obj, items_key: kept})


PASS_ALL = CompiledFilter(object_conditions=(), item_conditions=None)
#: What a filter that can no longer be read stands for: nothing passes.
DENY_ALL = CompiledFilter(object_conditions=(lambda obj: False,), item_conditions=None)


def decide_all(
    compiled: Sequence[CompiledFilter], data: Any, items_key: str = ITEMS_KEY
) -> Decision:
    """Every filter in turn, each on what the one before left (a key's scope, then its own)."""
    obj = data.get("object") if isinstance(data, dict) else None
    narrowed = False
    for each in compiled:
        if each is PASS_ALL:
            continue
        decision = each.decide({"object": obj}, items_key)
        if not decision.deliver:
            return Decision(deliver=False)
        if decision.object_override is not None:
            obj, narrowed = decision.object_override, True
    return Decision(deliver=True, object_override=obj if narrowed else None)


def validate(spec: Any) -> None:
    """Raise ValidationError (one message per mistake) unless ``spec`` is a valid filter."""
    _compile(spec)


def compile_filter(spec: Any) -> CompiledFilter:
    """The compiled filter for ``spec`` (cached: a webhook's filter is compiled once)."""
    if not spec:
        return PASS_ALL
    return _compile_cached(json.dumps(spec, sort_keys=True))


@lru_cache(maxsize=256)
def _compile_cached(spec_json: str) -> CompiledFilter:
    return _compile(json.loads(spec_json))


def _compile(spec: Any) -> CompiledFilter:
    if spec in (None, {}):
        return PASS_ALL
    errors: list[str] = []
    if not isinstance(spec, dict):
        raise ValidationError(_("A filter is an object with the keys “object” and/or “items”."))
    unknown = sorted(set(spec) - {"object", ITEMS_KEY})
    if unknown:
        errors.append(
            _("Unknown filter key(s): %(keys)s. Use “object” and/or “items”.")
            % {"keys": ", ".join(map(str, unknown))}
        )
    object_conditions = _conditions(spec.get("object", {}), "object", errors)
    item_conditions = _conditions(spec[ITEMS_KEY], ITEMS_KEY, errors) if ITEMS_KEY in spec else None
    if errors:
        raise ValidationError(errors)
    return CompiledFilter(
        tuple(object_conditions), None if item_conditions is None else tuple(item_conditions)
    )


def _conditions(section: Any, name: str, errors: list[str]) -> list[Predicate]:
    if not isinstance(section, dict):
        errors.append(_("“%(section)s” must map paths to conditions.") % {"section": name})
        return []
    if name == ITEMS_KEY and not section:
        errors.append(_("“items” needs at least one condition."))
    predicates = []
    for path, condition in section.items():
        where = f"{name}.{path}"
        if not isinstance(path, str) or not _PATH.fullmatch(path):
            errors.append(
                _("%(where)s: “%(path)s” is not a path; use dotted names like customer.email.")
                % {"where": name, "path": path}
            )
            continue
        predicate = _predicate(tuple(path.split(".")), condition, where, errors)
        if predicate is not None:
            predicates.append(predicate)
    return predicates


def _predicate(
    path: tuple[str, ...], condition: Any, where: str, errors: list[str]
) -> Predicate | None:
    if not isinstance(condition, dict):
        condition = {"equals": condition}
    if len(condition) != 1:
        errors.append(
            _("%(where)s: give exactly one operator (%(operators)s).")
            % {"where": where, "operators": ", ".join(OPERATORS)}
        )
        return None
    ((operator, operand),) = condition.items()
    if operator == "equals":
        if isinstance(operand, dict | list):
            errors.append(_("%(where)s: “equals” compares with a single value.") % {"where": where})
            return None
        return lambda obj: _resolve(obj, path) == operand
    if operator == "in":
        if (
            not isinstance(operand, list)
            or not operand
            or any(isinstance(value, dict | list) for value in operand)
        ):
            errors.append(_("%(where)s: “in” needs a non-empty list of values.") % {"where": where})
            return None
        choices = list(operand)
        return lambda obj: _resolve(obj, path) in choices
    if operator == "exists":
        if not isinstance(operand, bool):
            errors.append(_("%(where)s: “exists” needs true or false.") % {"where": where})
            return None
        return lambda obj: (_resolve(obj, path) not in (_MISSING, None)) is operand
    if operator == "prefix":
        if not isinstance(operand, str) or not operand:
            errors.append(_("%(where)s: “prefix” needs a non-empty text.") % {"where": where})
            return None
        return lambda obj: (
            isinstance(value := _resolve(obj, path), str) and value.startswith(operand)
        )
    errors.append(
        _("%(where)s: unknown operator “%(operator)s”; use one of %(operators)s.")
        % {"where": where, "operator": operator, "operators": ", ".join(OPERATORS)}
    )
    return None


def _resolve(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(obj, dict) or name not in obj:
            return _MISSING
        obj = obj[name]
    return obj
