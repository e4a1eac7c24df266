"""A real HTTP receiver on 127.0.0.1 that can answer well, wrongly, slowly or never.

Each path is given a script of behaviours, played in order (the last one repeats)::

    receiver.script("/flaky", [Status(500), Status(500), Status(200)])
    url = receiver.url("/flaky")

Every request is recorded (arrival time, headers, body) and can be awaited.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    arrived_at: float  # time.time()
    arrived_monotonic: float


class Behaviour:
    def respond(self, handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
        raise NotImplementedError


@dataclass
class Status(Behaviour):
    code: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: Close the connection after answering without announcing it (a keep-alive that ended).
    close_after: bool = False

    def respond(self, handler, receiver) -> None:
        if self.delay and receiver.stopping.wait(self.delay):
            return
        handler.send_response(self.code)
        for name, value in self.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        handler.wfile.write(self.body)
        if self.close_after:
            handler.close_connection = True


@dataclass
class Redirect(Behaviour):
    location: str
    code: int = 302

    def respond(self, handler, receiver) -> None:
        Status(self.code, b"moved", {"Location": self.location}).respond(handler, receiver)


@dataclass
class Drip(Behaviour):
    """The whole answer, status line included, one byte per ``interval``.

    ``head`` is sent at once before the dripping starts (e.g. the status line and headers).
    """

    interval: float = 1.0
    answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    head: bytes = b""

    def respond(self, handler, receiver) -> None:
        handler.close_connection = True
        if self.head:
            try:
                handler.wfile.write(self.head)
                handler.wfile.flush()
            except OSError:
                return
        for byte in self.answer:
            if receiver.stopping.wait(self.interval):
                return
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return


class Never(Behaviour):
    """Read the request, then hold the connection without a byte of answer."""

    def respond(self, handler, receiver) -> None:
        handler.close_connection = True
        receiver.stopping.wait()


@dataclass
class Big(Behaviour):
    """A 200 with ``size`` bytes of body, streamed."""

    size: int = 100 * 1024 * 1024

    def respond(self, handler, receiver) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Length", str(self.size))
        handler.end_headers()
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < self.size and not receiver.stopping.is_set():
                handler.wfile.write(chunk[: self.size - sent])
                sent += len(chunk)
        except OSError:
            return


class EndlessChunks(Behaviour):
    """A 200 whose chunked body never ends."""

    def respond(self, handler, receiver) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            while not receiver.stopping.is_set():
                handler.wfile.write(b"1000\r\n" + b"y" * 4096 + b"\r\n")
        except OSError:
            return


@dataclass
class ManyHeaders(Behaviour):
    count: int = 10_000
    value_size: int = 100

    def respond(self, handler, receiver) -> None:
        handler.close_connection = True
        value = b"y" * self.value_size
        try:
            # Line by line, not through send_header(), which would hold the block in memory.
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for number in range(self.count):
                handler.wfile.write(b"X-Filler-%d: %s\r\n" % (number, value))
            handler.wfile.write(b"Content-Length: 2\r\n\r\nok")
        except OSError:
            return


class Reset(Behaviour):
    """Start a 200 answer, then reset the connection (RST) halfway through the body."""

    def respond(self, handler, receiver) -> None:
        handler.close_connection = True
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
        handler.wfile.flush()
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()


class DropNextRequest(Behaviour):
    """Answer 200 on a keep-alive connection, then close it as the next request arrives.

    What a client sees when a receiver closes an idle connection just as the client
    reuses it: the request goes out and the connection ends without a byte of answer.
    """

    def respond(self, handler, receiver) -> None:
        Status(200).respond(handler, receiver)
        handler.wfile.flush()
        handler.close_connection = True
        while not receiver.stopping.is_set():
            readable, _, _ = select.select([handler.connection], [], [], 0.1)
            if readable:
                return


class Capacity(Behaviour):
    """Room for ``room`` requests at a time (each answered 200 after ``delay``), 503 beyond.

    ``room=None``: no limit (a slow but healthy receiver). ``retry_after``: the header its
    503s carry, if any. Counts what it saw: the most requests in flight at once (refused ones
    included, for the moment they are there: a refusal is instant, so a client that sends too
    many shows in ``refused`` more than in ``peak``), how many it served and how many it refused.
    One instance is one receiver's capacity: give the same one to every path that shares it.
    """

    def __init__(self, room: int | None = 3, delay: float = 0.1, retry_after: str = "") -> None:
        self.room = room
        self.delay = delay
        self.retry_after = retry_after
        self.in_flight = 0
        self.peak = 0
        self.served = 0
        self.refused = 0
        self._lock = threading.Lock()

    def respond(self, handler, receiver) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            refused = self.room is not None and self.in_flight > self.room
            if refused:
                self.refused += 1
                self.in_flight -= 1
        if refused:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            Status(503, b"busy", headers).respond(handler, receiver)
            return
        stopped = receiver.stopping.wait(self.delay)
        with self._lock:
            # Before the answer goes out: the client's next request must find the room free.
            self.in_flight -= 1
            self.served += 1
        if not stopped:
            Status(200).respond(handler, receiver)

    def figures(self) -> dict[str, int]:
        with self._lock:
            return {"peak": self.peak, "served": self.served, "refused": self.refused}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        path = self.path.split("?", 1)[0]
        behaviour = receiver._record_and_pick(
            Received(path, dict(self.headers.items()), body, time.time(), time.monotonic())
        )
        behaviour.respond(self, receiver)

    do_GET = do_POST
    do_PUT = do_POST

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    tls: ssl.SSLContext | None = None

    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up early are part of the tests

    def finish_request(self, request, client_address) -> None:
        # The TLS handshake runs here, in the connection's own thread, so a client that
        # stalls or fails it cannot block the accept loop.
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        with self.tls.wrap_socket(request, server_side=True) as tls_request:
            super().finish_request(tls_request, client_address)

    def shutdown_request(self, request) -> None:
        super().shutdown_request(request)
        self.receiver._connection_closed()


class Receiver:
    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        on_request: Callable[[Received], None] | None = None,
    ) -> None:
        self.host = host
        #: Called with every request as it arrives, in the server's thread (tests.payload_contract).
        self.on_request = on_request
        self.stopping = threading.Event()
        self.requests: list[Received] = []
        self.connections = 0
        self.closed_connections = 0
        self._scripts: dict[str, list[Behaviour]] = {}
        self._served: dict[str, int] = {}
        self._changed = threading.Condition()
        self._server = _Server((host, port), _Handler)
        self._server.receiver = self
        self._server.tls = tls
        original_verify = self._server.verify_request

        def counting_verify(request, client_address):
            self.connections += 1
            return original_verify(request, client_address)

        self._server.verify_request = counting_verify
        self.port = self._server.server_address[1]
        # A short poll interval: stop() (server.shutdown) waits for the next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/ok", *, host: str | None = None) -> str:
        scheme = "https" if self._server.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def script(self, path: str, behaviours: Sequence[Behaviour]) -> str:
        self._scripts[path] = list(behaviours)
        return self.url(path)

    def _record_and_pick(self, received: Received) -> Behaviour:
        if self.on_request is not None:
            self.on_request(received)
        with self._changed:
            self.requests.append(received)
            served = self._served.get(received.path, 0)
            self._served[received.path] = served + 1
            self._changed.notify_all()
        script = self._scripts.get(received.path) or [Status(200)]
        return script[min(served, len(script) - 1)]

    def _connection_closed(self) -> None:
        with self._changed:
            self.closed_connections += 1
            self._changed.notify_all()

    def wait_for_closed(self, count: int, timeout: float = 10.0) -> None:
        """Block until the server has closed ``count`` connections; fail after ``timeout``."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.closed_connections >= count, timeout):
                raise AssertionError(
                    f"{self.closed_connections} of {count} connections closed within {timeout} s"
                )

    def received(self, path: str | None = None) -> list[Received]:
        with self._changed:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(
        self, count: int, path: str | None = None, timeout: float = 10.0
    ) -> list[Received]:
        """Block until ``count`` requests (to ``path``) arrived; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [r for r in self.requests if path is None or r.path == path]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{len(matching)} of {count} expected requests to {path or 'any path'} "
                        f"arrived within {timeout} s"
                    )
                self._changed.wait(remaining)


class SilentListener:
    """A TCP port on 127.0.0.1 whose connections the kernel accepts and nobody serves.

    Connecting succeeds (the handshake completes in the backlog); no byte ever comes back:
    a stalled TLS handshake or an HTTP request that is never read.
    """

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self._socket.getsockname()[1]

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._socket.close()


@contextlib.contextmanager
def loopback_only() -> Iterator[list[tuple[str, int]]]:
    """Make any socket connect to a non-loopback address fail the test, and record the rest.

    A safety net for tests of the address guard: whatever the code under test does, no
    traffic leaves the machine or goes to a private range.
    """
    connected: list[tuple[str, int]] = []
    original = socket.socket.connect

    def connect(sock: socket.socket, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0].split("%", 1)[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"a test tried to connect to {host}")
            connected.append((host, address[1]))
        original(sock, address)

    socket.socket.connect = connect
    try:
        yield connected
    finally:
        socket.socket.connect = original
