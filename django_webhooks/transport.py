"""One HTTP POST with a hard deadline for the whole attempt.

requests/urllib3 only know per-socket-operation timeouts, which a receiver that drip-feeds
its answer a byte a second never trips. So every attempt runs inside a :class:`Deadline`:
each socket it uses is registered, every operation gets at most the time that remains, and
a single watchdog thread shuts the sockets down when the deadline passes, which ends any
blocked read at once. The connection classes also resolve the host themselves and refuse
non-public addresses (see :mod:`django_webhooks.address_guard`). Redirects are never
followed; at most :data:`MAX_ANSWER_BYTES` of an answer are read; keep-alive connections are
pooled per destination.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from . import __version__, address_guard

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = f"django-webhooks/{__version__}"


class DestinationRefused(NewConnectionError):
    """Every address of the destination is one the address guard refuses."""


@dataclass
class Result:
    status: int | None = None
    body: bytes = b""
    complete: bool = False
    error: str = ""
    duration_ms: int = 0
    location: str = ""


# --- the deadline ---------------------------------------------------------------------------

_local = threading.local()


class Deadline:
    """Bounds everything the current thread does on sockets until the block ends."""

    def __init__(self, seconds: float, *, allow_private: bool) -> None:
        self.expires = time.monotonic() + seconds
        self.allow_private = allow_private
        self.expired = False
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
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)
        else:
            sock.settimeout(self.remaining())

    @property
    def finished(self) -> bool:
        return self._closed

    def expire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def __enter__(self) -> Deadline:
        _local.deadline = self
        _watchdog().watch(self)
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


_watchdogs: dict[int, _Watchdog] = {}
_watchdog_lock = threading.Lock()


def _watchdog() -> _Watchdog:
    # One per process: threads do not survive the fork of a django-q2 worker.
    pid = os.getpid()
    watchdog = _watchdogs.get(pid)
    if watchdog is None:
        with _watchdog_lock:
            watchdog = _watchdogs.get(pid) or _Watchdog()
            _watchdogs.clear()
            _watchdogs[pid] = watchdog
    return watchdog


# --- connections that check the address they connect to ------------------------------------


class _GuardedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        deadline = current_deadline()
        timeout = deadline.remaining() if deadline else self.timeout
        allow_private = deadline.allow_private if deadline else False
        try:
            addresses = address_guard.resolve(self._dns_host, self.port)
        except socket.gaierror as error:
            raise NewConnectionError(self, f"Cannot resolve {self.host}: {error}") from error
        allowed, refusals = [], []
        for family, sockaddr in addresses:
            reason = None if allow_private else address_guard.refusal_reason(sockaddr[0])
            if reason:
                refusals.append(f"{sockaddr[0]} is a {reason}")
            else:
                allowed.append((family, sockaddr))
        if not allowed:
            raise DestinationRefused(
                self, f"Destination refused by the address guard: {'; '.join(refusals)}."
            )
        last_error: OSError | None = None
        for family, sockaddr in allowed:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                if deadline:
                    deadline.register(sock)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as error:
                sock.close()
                raise ConnectTimeoutError(self, f"Connecting to {self.host} timed out.") from error
            except OSError as error:
                sock.close()
                last_error = error
        raise NewConnectionError(self, f"Failed to connect to {self.host}: {last_error}")

    def connect(self) -> None:
        super().connect()
        deadline = current_deadline()
        if deadline:
            deadline.register(self.sock)

    def request(self, *args, **kwargs):
        deadline = current_deadline()
        if deadline and self.sock is not None:
            deadline.register(self.sock)
        return super().request(*args, **kwargs)


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


# --- the transport ---------------------------------------------------------------------------


@dataclass
class Transport:
    """A keep-alive session for one process; safe to share between its threads."""

    max_hosts: int = 200
    connections_per_host: int = 16
    session: requests.Session = field(init=False)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy from the environment would bypass the guard
        adapter = GuardedAdapter(
            pool_connections=self.max_hosts,
            pool_maxsize=self.connections_per_host,
            max_retries=Retry(total=0, read=False, redirect=False),
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def post(
        self, url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
    ) -> Result:
        started = time.monotonic()
        result = Result()
        response = None
        answer = b""
        with Deadline(timeout, allow_private=allow_private) as deadline:
            try:
                response = self.session.post(
                    url,
                    data=body,
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers},
                    stream=True,
                    allow_redirects=False,
                    timeout=(timeout, timeout),
                )
                result.status = response.status_code
                result.location = response.headers.get("Location", "")
                answer = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=False)
                result.body = answer[:MAX_ANSWER_BYTES]
                # More than the cap means we stopped reading on purpose: the answer is judged
                # on its status and first 64 KiB.
                result.complete = not deadline.expired
            except Exception as error:  # noqa: BLE001 - every failure is an outcome to record
                result.error = _describe(error, deadline, timeout)
                result.complete = False
        if response is not None:
            if result.complete and len(answer) <= MAX_ANSWER_BYTES:
                response.raw.release_conn()
            else:
                response.close()
        result.duration_ms = int((time.monotonic() - started) * 1000)
        if result.status is not None and 300 <= result.status < 400 and not result.error:
            result.error = f"Redirect to {result.location or '(no Location)'} not followed."
        return result


def _describe(error: BaseException, deadline: Deadline, timeout: float) -> str:
    if deadline.expired or isinstance(error, requests.Timeout):
        return f"No complete answer within {timeout:g} s."
    cause: BaseException | None = error
    for _ in range(10):  # requests wraps urllib3 wraps the socket error
        if cause is None:
            break
        if isinstance(cause, DestinationRefused):
            return str(cause).split(": ", 1)[-1]
        cause = getattr(cause, "reason", None) or cause.__cause__ or cause.__context__
    if isinstance(error, requests.exceptions.SSLError):
        return f"TLS error: {_first_line(error)}"
    if isinstance(error, requests.ConnectionError):
        return f"Connection failed: {_first_line(error)}"
    return f"{error.__class__.__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    text = str(error) or error.__class__.__name__
    return text.splitlines()[0][:500]


_transports: dict[int, Transport] = {}


def get_transport() -> Transport:
    """The process's transport (a forked worker builds its own)."""
    pid = os.getpid()
    transport = _transports.get(pid)
    if transport is None:
        _transports.clear()
        transport = _transports[pid] = Transport()
    return transport
