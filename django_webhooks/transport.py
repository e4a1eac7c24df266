"""One HTTP POST with a hard deadline for the whole attempt.

requests/urllib3 only know per-socket-operation timeouts, which a receiver that drip-feeds
its answer a byte a second never trips. So every attempt runs inside a :class:`Deadline`:
each socket it uses is registered, every operation gets at most the time that remains, and
a single watchdog thread shuts the sockets down when the deadline passes, which ends any
blocked read at once. The host name is looked up on a helper thread that the attempt waits
for only as long as the deadline allows: a DNS server that never answers is as hostile as a
receiver that never answers.

The connection classes resolve the host themselves, refuse non-public addresses (see
:mod:`django_webhooks.address_guard`) and connect to an address they checked, so there is no
second lookup; a pooled connection is checked again against the policy of the attempt that
reuses it. Redirects are never followed; at most :data:`MAX_HEADER_BYTES` of status line and
headers and :data:`MAX_ANSWER_BYTES` of body are read; cookies are neither kept nor sent.

Keep-alive connections are pooled per destination. A request that fails on a reused
connection before a byte of answer came back (the receiver closed it as it was being reused)
goes once more on a fresh connection, within the same deadline: receivers drop duplicates
by ``webhook-id``, and the alternative is a certain retry minutes later.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import http.cookiejar
import itertools
import os
import socket
import ssl
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from . import __version__, address_guard

MAX_ANSWER_BYTES = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
USER_AGENT = f"django-webhooks/{__version__}"
#: Host-name lookups in flight at once per process; more wait their turn (within the deadline).
RESOLVER_THREADS = 32


class DestinationRefused(NewConnectionError):
    """Every address of the destination is one the address guard refuses."""

    def __init__(self, conn: HTTPConnection, explanation: str) -> None:
        self.explanation = explanation
        super().__init__(conn, explanation)


class HeaderBlockTooLarge(http.client.HTTPException):
    """The status line and headers (interim 1xx answers included) exceed MAX_HEADER_BYTES."""


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
        self._pending: dict[tuple[str, int], Future] = {}
        self._lock = threading.Lock()

    def lookup(self, host: str, port: int) -> Future:
        key = (host, port)
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = self._pool.submit(address_guard.resolve, host, port)
            else:
                return pending
        pending.add_done_callback(lambda done: self._forget(key, done))
        return pending

    def _forget(self, key: tuple[str, int], done: Future) -> None:
        with self._lock:
            if self._pending.get(key) is done:
                del self._pending[key]


_resolvers: dict[int, _Resolver] = {}
_resolver_lock = threading.Lock()


def _resolver() -> _Resolver:
    # One per process: threads do not survive the fork of a django-q2 worker.
    pid = os.getpid()
    with _resolver_lock:
        resolver = _resolvers.get(pid)
        if resolver is None:
            _resolvers.clear()
            resolver = _resolvers[pid] = _Resolver()
    return resolver


# --- answers read within bounds --------------------------------------------------------------


class _HeaderBudget:
    """The response's file while http.client reads the status line and headers."""

    def __init__(self, fp: Any) -> None:
        self._fp = fp
        self._left = MAX_HEADER_BYTES

    def readline(self, limit: int = -1) -> bytes:
        # Never ask for more than the budget allows, so a huge block is never buffered.
        cap = self._left + 1 if limit < 0 else min(limit, self._left + 1)
        line = self._fp.readline(cap)
        self._left -= len(line)
        if self._left < 0:
            raise HeaderBlockTooLarge(
                f"status line and headers larger than {MAX_HEADER_BYTES // 1024} KiB"
            )
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)


class _BoundedHTTPResponse(http.client.HTTPResponse):
    def begin(self) -> None:
        fp = self.fp
        self.fp = _HeaderBudget(fp)
        try:
            super().begin()
        finally:
            if self.fp is not None:  # None: begin() closed it (an answer without a body)
                self.fp = fp


# --- connections that check the address they connect to ------------------------------------


class _GuardedConnectionMixin:
    response_class = _BoundedHTTPResponse
    #: The address this connection went to, and why it is not public (None: it is), so that
    #: an attempt that reuses the connection can judge it under its own policy.
    _peer: str = ""
    _peer_refusal: str | None = None
    #: Answers received on the current socket: more than none means the next use is a reuse.
    _answers = 0

    def _new_conn(self) -> socket.socket:
        deadline = current_deadline()
        allow_private = deadline.allow_private if deadline else False
        allowed, refusals = [], []
        for family, sockaddr in self._resolve(deadline):
            reason = address_guard.refusal_reason(sockaddr[0])
            if reason and not allow_private:
                refusals.append(f"{sockaddr[0]} ({reason})")
            else:
                allowed.append((family, sockaddr, reason))
        if not allowed:
            raise DestinationRefused(
                self,
                f"Destination refused: {self.host} resolves to {', '.join(refusals)}; "
                "non-public destinations are not allowed.",
            )
        last_error: OSError | None = None
        for family, sockaddr, reason in allowed:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(deadline.remaining() if deadline else self.timeout)
                if deadline:
                    deadline.register(sock)
                sock.connect(sockaddr)
            except TimeoutError as error:
                sock.close()
                raise ConnectTimeoutError(self, f"Connecting to {self.host} timed out.") from error
            except OSError as error:
                sock.close()
                last_error = error
                continue
            self._peer, self._peer_refusal = sockaddr[0], reason
            return sock
        raise NewConnectionError(
            self, f"Failed to connect to {self.host}: {last_error}"
        ) from last_error

    def _resolve(self, deadline: Deadline | None) -> list[tuple[int, Any]]:
        try:
            if deadline is None:
                return address_guard.resolve(self._dns_host, self.port)
            lookup = _resolver().lookup(self._dns_host, self.port)
            try:
                return lookup.result(timeout=deadline.remaining())
            except TimeoutError:
                raise ConnectTimeoutError(self, f"Resolving {self.host} timed out.") from None
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error

    def connect(self) -> None:
        super().connect()
        self._answers = 0
        deadline = current_deadline()
        if deadline:
            deadline.register(self.sock)

    def request(self, *args, **kwargs):
        deadline = current_deadline()
        if deadline and self.sock is not None:
            if self._peer_refusal and not deadline.allow_private:
                # Pooled under a policy that allowed it; this attempt's policy does not.
                self.close()
                raise DestinationRefused(
                    self,
                    f"Destination refused: {self.host} is connected to {self._peer} "
                    f"({self._peer_refusal}); non-public destinations are not allowed.",
                )
            deadline.reused_connection = self._answers > 0
            deadline.register(self.sock)
        return super().request(*args, **kwargs)

    def getresponse(self):
        response = super().getresponse()
        self._answers += 1
        return response


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
        # A policy that allows no domain: no cookie is kept, none is sent.
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
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
        ended = False
        answer = bytearray()  # kept when the read fails: an excerpt (and the phrase) still count
        with Deadline(timeout, allow_private=allow_private) as deadline:
            try:
                response = self._send(url, body, headers, timeout, deadline)
                result.status = response.status_code
                result.location = response.headers.get("Location", "")
                # Past the cap we stop reading on purpose: the answer is judged on its status
                # and first MAX_ANSWER_BYTES.
                ended = _read_answer(response.raw, answer)
                result.complete = not deadline.expired
            except Exception as error:  # noqa: BLE001 - every failure is an outcome to record
                result.error = _describe(error, deadline, timeout, _host(url))
        result.body = bytes(answer[:MAX_ANSWER_BYTES])
        # The deadline is over: its watchdog no longer touches these sockets.
        if response is not None:
            if result.complete and ended and not deadline.expired:
                response.raw.release_conn()
            else:
                response.close()
        if not result.complete and not result.error:
            result.error = _timed_out(timeout)  # the deadline ended a read that raised nothing
        result.duration_ms = int((time.monotonic() - started) * 1000)
        if result.status is not None and 300 <= result.status < 400 and not result.error:
            result.error = f"Redirect to {result.location or '(no Location)'} not followed."
        return result

    def _send(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float, deadline: Deadline
    ) -> requests.Response:
        request = self._prepare(url, body, headers)
        adapter = self.session.get_adapter(url)
        failures = 0
        while True:
            deadline.reused_connection = False
            try:
                # The adapter, not Session.post: no redirects to resolve, no cookies, no hooks
                # or environment to merge. That is ~40 % of the CPU a POST costs.
                return adapter.send(
                    request,
                    stream=True,
                    timeout=(timeout, timeout),
                    verify=self.session.verify,
                    proxies={},
                )
            except requests.ConnectionError as error:
                failures += 1
                # Each stale pooled connection is used up by one failure; a fresh one follows.
                if not (
                    deadline.reused_connection
                    and not deadline.expired
                    and failures <= self.connections_per_host
                    and _closed_unanswered(error)
                ):
                    raise

    @staticmethod
    def _prepare(url: str, body: bytes, headers: dict[str, str]) -> requests.PreparedRequest:
        request = requests.PreparedRequest()
        request.method = "POST"
        request.prepare_url(url, None)
        request.prepare_headers(
            {
                "User-Agent": USER_AGENT,
                "Accept-Encoding": "identity",
                **headers,
                "Content-Length": str(len(body)),
            }
        )
        request.body = body
        request.hooks = {"response": []}
        return request


def _read_answer(raw: Any, answer: bytearray) -> bool:
    """Read at most MAX_ANSWER_BYTES (+1) of body into ``answer``; did the answer end in them?"""
    while len(answer) <= MAX_ANSWER_BYTES:
        # A read after the last byte is what detects a body cut short of its Content-Length.
        chunk = raw.read(MAX_ANSWER_BYTES + 1 - len(answer), decode_content=False)
        if not chunk:
            return True
        answer += chunk
    return False


# --- describing failures ---------------------------------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what it wraps (requests wraps urllib3 wraps http.client and sockets)."""
    found: list[BaseException] = []
    pending = [error]
    while pending and len(found) < 30:
        current = pending.pop(0)
        if any(current is known for known in found):
            continue
        found.append(current)
        wrapped = [getattr(current, "reason", None), *current.args]
        wrapped += [current.__cause__, current.__context__]
        pending.extend(item for item in wrapped if isinstance(item, BaseException))
    return found


def _first(causes: list[BaseException], kind: type | tuple[type, ...]) -> Any:
    return next((cause for cause in causes if isinstance(cause, kind)), None)


def _closed_unanswered(error: BaseException) -> bool:
    """The connection ended before a byte of answer: what a reused, stale connection does."""
    causes = _causes(error)
    if _first(causes, (DestinationRefused, ssl.SSLCertVerificationError)):
        return False
    return bool(
        _first(
            causes,
            (
                http.client.RemoteDisconnected,
                ConnectionResetError,
                BrokenPipeError,
                ConnectionAbortedError,
                ssl.SSLEOFError,
                ssl.SSLZeroReturnError,
            ),
        )
    )


def _timed_out(timeout: float) -> str:
    return f"No complete answer within {timeout:g} s."


def _describe(error: BaseException, deadline: Deadline, timeout: float, host: str) -> str:
    if deadline.expired:
        return _timed_out(timeout)
    causes = _causes(error)
    if refused := _first(causes, DestinationRefused):
        return refused.explanation
    if unresolved := _first(causes, socket.gaierror):
        return f"Cannot resolve {host}: {unresolved.strerror or unresolved}."
    if tls := _first(causes, (ssl.SSLError, ssl.CertificateError)):
        return f"TLS error: {_first_line(tls)}"
    timeouts = (requests.Timeout, ReadTimeoutError, TimeoutError)
    if _first(causes, timeouts) or any(
        isinstance(cause, ConnectTimeoutError) and not isinstance(cause, NewConnectionError)
        for cause in causes
    ):
        return _timed_out(timeout)
    if _first(causes, ConnectionRefusedError):
        return f"Connection refused by {host}."
    if _first(causes, http.client.RemoteDisconnected):
        return "The receiver closed the connection without answering."
    if _first(causes, ConnectionResetError):
        return "Connection reset by the receiver."
    if incomplete := _first(causes, http.client.IncompleteRead):
        read = (
            incomplete.partial if isinstance(incomplete.partial, int) else len(incomplete.partial)
        )
        return (
            "The receiver closed the connection mid-answer "
            f"({read} bytes of body read, {incomplete.expected} more expected)."
        )
    if invalid := _first(causes, http.client.HTTPException):
        if isinstance(invalid, http.client.BadStatusLine):
            return f"Invalid answer: bad status line {invalid.line[:200]!r}."
        return f"Invalid answer: {_first_line(invalid)}."
    bad_url = (
        requests.exceptions.InvalidURL,
        requests.exceptions.InvalidSchema,
        requests.exceptions.MissingSchema,
    )
    if _first(causes, bad_url):
        return f"Invalid URL: {_first_line(error)}"
    # requests' own exceptions are OSErrors too: look under them for the socket's.
    socket_errors = [c for c in causes if not isinstance(c, requests.RequestException)]
    if failed := _first(socket_errors, OSError):
        return f"Connection failed: {failed.strerror or _first_line(failed)}."
    return f"{error.__class__.__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    text = str(error) or error.__class__.__name__
    return text.splitlines()[0][:500]


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


_transports: dict[int, Transport] = {}


def get_transport() -> Transport:
    """The process's transport (a forked worker builds its own)."""
    pid = os.getpid()
    transport = _transports.get(pid)
    if transport is None:
        _transports.clear()
        transport = _transports[pid] = Transport()
    return transport
