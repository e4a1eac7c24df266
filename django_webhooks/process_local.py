"""One instance per process of what cannot cross a fork: threads, pools, sockets, locks.

django-q2 forks its workers from the cluster process. A thread pool or a keep-alive session
made before the fork would be a dead copy in the child, so each is made on first use in the
process that uses it, and forgotten in a forked child (``os.register_at_fork``).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """``get(*key)`` returns ``factory(*key)``, made once per process and key."""

    def __init__(self, factory: Callable[..., T]) -> None:
        self._factory = factory
        self._instances: dict[tuple[Hashable, ...], T] = {}
        self._lock = threading.Lock()
        functools.update_wrapper(self, factory)
        os.register_at_fork(after_in_child=self._forget)

    def get(self, *key: Hashable) -> T:
        instance = self._instances.get(key)
        if instance is None:
            with self._lock:
                instance = self._instances.get(key)
                if instance is None:
                    instance = self._instances[key] = self._factory(*key)
        return instance

    __call__ = get

    def _forget(self) -> None:
        # The parent's lock may have been held by one of its threads at the fork.
        self._lock = threading.Lock()
        self._instances = {}

    def clear(self) -> None:
        with self._lock:
            self._instances = {}


def per_process(factory: Callable[..., T]) -> PerProcess[T]:
    """Decorator form of :class:`PerProcess`."""
    return PerProcess(factory)
