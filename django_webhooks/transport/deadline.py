"""A hard deadline for everything one attempt does on sockets.

requests/urllib3 only know per-socket-operation timeouts, which a receiver that drip-feeds
its answer a byte a second never trips. So every attempt runs inside a :class:`Deadline`:
each socket it uses is registered, every operation gets at most the time that remains, and
a single watchdog thread per process shuts the sockets down when the deadline passes, which
ends any blocked read at once.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time

from ..process_local import per_process

_local = threading.local()


class Deadline:
    """Bounds everything the current thread does on sockets until the block ends."""

    def __init__(self, seconds: float, *, allow_private: bool) -> None:
        self.expires = time.monotonic() + seconds
        self.allow_private = allow_private
        self.expired = False
        #: Set by the connection: the request about to go out reuses a pooled connection.
        self.reused_connection = False
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(self.expires - time.monotonic(), 0.001)

    def register(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self._closed:
                return
            if not any(known is sock for known in self._sockets):
                self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)
                return
        sock.settimeout(self.remaining())

    @property
    def finished(self) -> bool:
        return self._closed

    def expire(self) -> None:
        # Shut down under the lock: the attempt cannot end, and hand a pooled connection to
        # another attempt, while its sockets are being shut down.
        with self._lock:
            if self._closed:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def __enter__(self) -> Deadline:
        _local.deadline = self
        _watchdog.get().watch(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _local.deadline = None
        with self._lock:
            self._closed = True
            self._sockets.clear()


def current_deadline() -> Deadline | None:
    return getattr(_local, "deadline", None)


def _shutdown(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: end the TCP stream under a TLS
    # connection without a TLS close handshake (which would block on the same peer).
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._wakeup = threading.Condition()
        self._counter = itertools.count()
        thread = threading.Thread(target=self._run, name="django-webhooks-deadlines", daemon=True)
        thread.start()

    def watch(self, deadline: Deadline) -> None:
        with self._wakeup:
            entry = (deadline.expires, next(self._counter), deadline)
            heapq.heappush(self._heap, entry)
            # Deadlines mostly arrive in order (one TIMEOUT): wake the thread only when this
            # one is now the earliest, not once per attempt.
            if self._heap[0] is entry:
                self._wakeup.notify()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                # Most attempts end long before their deadline: drop those without a wake-up
                # each, so the thread sleeps until the earliest deadline still running.
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                while not self._heap:
                    self._wakeup.wait()
                expires, _, deadline = self._heap[0]
                delay = expires - time.monotonic()
                if delay > 0:
                    self._wakeup.wait(delay)
                    continue
                heapq.heappop(self._heap)
            deadline.expire()


@per_process
def _watchdog() -> _Watchdog:
    return _Watchdog()
