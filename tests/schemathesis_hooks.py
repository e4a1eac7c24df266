"""Schemathesis hooks for the hostile-strings run: bodies with text no database should store.

In each generated (valid) body one string, in turn, becomes a lone surrogate (JSON's
``\\ud800``), a 100,000-character string, or text ending in an unpaired surrogate; every
other value stays valid, so the hostile one reaches validation and, unless refused, the
database. Keys are turned too, now and then. The API must never answer a 5xx.
"""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

HOSTILE = ["\ud800", "x" * 100_000, "order note \udfff", "\udbff\ud800"]
_turn = itertools.count()


def _strings(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        found = [(*path, ("key", key)) for key in value]
        for key, item in value.items():
            found += _strings(item, (*path, key))
        return found
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _strings(item, (*path, index))]
    return []


def _replace(value: Any, path: tuple, hostile: str) -> Any:
    if not path:
        return hostile
    step, rest = path[0], path[1:]
    if isinstance(step, tuple):  # a key
        return {(hostile if key == step[1] else key): item for key, item in value.items()}
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[step] = _replace(value[step], rest, hostile)
    return copy


def one_hostile_string(body: Any) -> Any:
    places = _strings(body)
    if not places:
        return body
    turn = next(_turn)
    return _replace(body, places[turn % len(places)], HOSTILE[turn % len(HOSTILE)])


@schemathesis.hook
def before_generate_body(context: Any, strategy: Any) -> Any:
    return strategy.map(one_hostile_string)
