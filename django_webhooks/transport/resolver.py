"""Host-name lookups bounded by the attempt's deadline.

The host name is looked up on a helper thread that the attempt waits for only as long as
the deadline allows: a DNS server that never answers is as hostile as a receiver that never
answers.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .. import address_guard
from ..process_local import per_process

#: Host-name lookups in flight at once per process; more wait their turn (within the deadline).
RESOLVER_THREADS = 32

#: What :func:`django_webhooks.address_guard.resolve` answers: ``(family, sockaddr)`` pairs.
Addresses = list[tuple[int, Any]]


class _Resolver:
    """Host-name lookups on a few threads; concurrent lookups of one name share one thread.

    A lookup the attempt stopped waiting for runs on until the resolver gives up. Sharing it
    keeps a name whose DNS never answers from taking one thread per attempt, and so from
    starving the lookups of every other destination.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=RESOLVER_THREADS, thread_name_prefix="django-webhooks-dns"
        )
        self._pending: dict[tuple[str, int], Future[Addresses]] = {}
        self._lock = threading.Lock()

    def lookup(self, host: str, port: int) -> Future[Addresses]:
        key = (host, port)
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = self._pool.submit(address_guard.resolve, host, port)
            else:
                return pending
        pending.add_done_callback(lambda done: self._forget(key, done))
        return pending

    def _forget(self, key: tuple[str, int], done: Future[Addresses]) -> None:
        with self._lock:
            if self._pending.get(key) is done:
                del self._pending[key]


@per_process
def resolver() -> _Resolver:
    return _Resolver()
