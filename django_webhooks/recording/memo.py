"""What the trackers remember for the rest of one transaction, forgotten with it.

Each value is tied to a no-op ``on_commit`` callback registered when it was written: Django
drops a transaction's callbacks when it (or the savepoint they were registered in) rolls back,
so a value whose callback is gone belongs to work that no longer exists, and the value written
before it (outside the savepoint) is the one that holds again. Outside a transaction there is
nothing to remember.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

_MEMO = "_django_webhooks_memo"


class _Marker:
    """A callable of its own per value, found again by identity in ``run_on_commit``."""

    __slots__ = ()

    def __call__(self) -> None:
        return None


def get_many(keys: Iterable[Hashable], using: str = DEFAULT_DB_ALIAS) -> dict[Hashable, Any]:
    """The values remembered for ``keys`` in the open transaction (keys without one left out)."""
    connection = connections[using]
    memo = getattr(connection, _MEMO, None)
    if not connection.in_atomic_block or not memo:
        return {}
    live = {id(entry[1]) for entry in connection.run_on_commit}
    found = {}
    for key in keys:
        stack = memo.get(key)
        while stack and id(stack[-1][0]) not in live:
            stack.pop()
        if stack:
            found[key] = stack[-1][1]
        elif stack is not None:
            del memo[key]
    return found


def get(key: Hashable, using: str = DEFAULT_DB_ALIAS) -> Any:
    """The value remembered for ``key`` in the open transaction, or None."""
    return get_many([key], using).get(key)


def put(key: Hashable, value: Any, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Remember ``value`` until the transaction ends; False (nothing kept) in autocommit.

    Values are replaced, never changed in place, so a savepoint's rollback restores the
    value written before it.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        return False
    memo = getattr(connection, _MEMO, None)
    if memo is None or not connection.run_on_commit:
        memo = {}  # a new transaction: what an earlier one left is stale
        setattr(connection, _MEMO, memo)
    marker = _Marker()
    transaction.on_commit(marker, using=using)
    memo.setdefault(key, []).append((marker, value))
    return True
