"""A fast HTTP/1.1 keep-alive receiver for the benchmark, in a process of its own.

tests/receiver.py (ThreadingHTTPServer: a thread and a handler object per connection, the
whole http.server parser in Python) costs more CPU per request than the engine under test,
so here one asyncio loop parses just enough HTTP/1.1 and answers by the path's first segment:

* ``/fast/...``  200 at once
* ``/slow/...``  200 after 50 ms (``--slow-ms``)
* ``/never/...`` reads the request and never answers (the client's deadline ends it)
* ``/ms300/...`` 200 after 300 ms (any ``/ms<N>``: after N ms)
* ``/cap/...``   a receiver at capacity: room for 3 requests at a time, each answered 200 after
  100 ms; beyond that 503 at once, without ``Retry-After``
* any other      200 at once

Control (GET): ``/_stats`` the arrivals per first segment, with the first and last arrival
time, the answers per segment and status (``/cap:503``), and the most requests in flight and
connections open that each segment saw at once; ``/_wait?prefix=/fast&count=N&timeout=T``
answers once N requests arrived there (``prefix=/cap:200``: once N were answered 200; no
polling on the benchmark's side); ``/_arrivals?prefix=/p5`` the ``webhook-id`` and arrival
time of each request; ``/_answers?prefix=/p10`` the ``webhook-id``, time and status of each
answer; ``/_fault?prefix=/p10&after=A&seconds=S[&retry_after=R]`` makes that segment answer
503 at once (with ``Retry-After: R`` if given) from A seconds from now for S seconds, and
answers when that is; ``/_reset`` forgets everything, faults included.

Run: ``python bench/receiver.py`` prints ``PORT <n>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
#: /cap: how many requests it serves at once, and how long each takes.
CAPACITY = 3
CAPACITY_SECONDS = 0.1
DELAYED = re.compile(r"/ms(\d+)$")


def busy(retry_after: str | None = None) -> bytes:
    extra = f"Retry-After: {retry_after}\r\n".encode() if retry_after else b""
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n"
        + extra
        + b"\r\nbusy"
    )


class Request:
    __slots__ = ("done", "event_id", "generation", "prefix")

    def __init__(self, prefix: str, event_id: str, generation: int) -> None:
        self.prefix, self.event_id, self.generation = prefix, event_id, generation
        self.done = False


class State:
    def __init__(self, slow_seconds: float) -> None:
        self.slow_seconds = slow_seconds
        self.generation = 0
        self.reset()

    def reset(self) -> None:
        self.generation += 1  # what is still in flight from before is not counted
        self.counts: dict[str, int] = defaultdict(int)
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.arrivals: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.answers: dict[str, list[tuple[str, float, int]]] = defaultdict(list)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self.connections: dict[str, set[int]] = defaultdict(set)
        self.peak_connections: dict[str, int] = defaultdict(int)
        self.faults: dict[str, tuple[float, float, str | None]] = {}
        self.waiters: list[tuple[str, int, asyncio.Future]] = []

    def _count(self, key: str, now: float) -> None:
        self.counts[key] += 1
        self.first.setdefault(key, now)
        self.last[key] = now
        if self.waiters:
            still = []
            for wanted, count, future in self.waiters:
                if wanted == key and self.counts[key] >= count:
                    if not future.done():
                        future.set_result(True)
                else:
                    still.append((wanted, count, future))
            self.waiters = still

    def arrived(self, prefix: str, event_id: str, connection: int) -> None:
        now = time.time()
        self.arrivals[prefix].append((event_id, now))
        self.in_flight[prefix] += 1
        self.peak[prefix] = max(self.peak[prefix], self.in_flight[prefix])
        connections = self.connections[prefix]
        connections.add(connection)
        self.peak_connections[prefix] = max(self.peak_connections[prefix], len(connections))
        self._count(prefix, now)

    def answered(self, request: Request, status: int | None) -> None:
        """The request was answered with ``status``, or (None) its connection was lost."""
        if request.generation != self.generation:
            return
        self.in_flight[request.prefix] -= 1
        if status is not None:
            now = time.time()
            self.answers[request.prefix].append((request.event_id, now, status))
            self._count(f"{request.prefix}:{status}", now)

    def fault(self, prefix: str) -> tuple[bool, str | None]:
        """Whether ``prefix`` is refusing now, and its Retry-After value (None: without one)."""
        window = self.faults.get(prefix)
        if window is None or not window[0] <= time.time() < window[1]:
            return False, None
        return True, window[2]


def _json_answer(document: object) -> bytes:
    body = json.dumps(document).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class HttpProtocol(asyncio.Protocol):
    def __init__(self, state: State) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.pending: list[Request] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.handle(method, target, headers)

    def handle(self, method: str, target: str, headers: dict[str, str]) -> None:
        path = urlsplit(target).path
        if path.startswith("/_"):
            self.control(path, parse_qs(urlsplit(target).query))
            return
        prefix = "/" + path.split("/", 2)[1]
        state = self.state
        serving = state.in_flight[prefix]
        request = Request(prefix, headers.get("webhook-id", ""), state.generation)
        self.pending.append(request)
        state.arrived(prefix, request.event_id, id(self))
        refusing, retry_after = state.fault(prefix)
        if refusing:
            self.finish(request, 503, busy(retry_after))
        elif prefix == "/never":
            return
        elif prefix == "/slow":
            self.loop.call_later(state.slow_seconds, self.finish, request, 200, OK)
        elif prefix == "/cap":
            if serving >= CAPACITY:
                self.finish(request, 503, busy())
            else:
                self.loop.call_later(CAPACITY_SECONDS, self.finish, request, 200, OK)
        elif delayed := DELAYED.match(prefix):
            self.loop.call_later(int(delayed[1]) / 1000, self.finish, request, 200, OK)
        else:
            self.finish(request, 200, OK)

    def finish(self, request: Request, status: int, data: bytes) -> None:
        if request.done:  # its connection was lost meanwhile
            return
        request.done = True
        self.pending.remove(request)
        self.state.answered(request, status)
        self.answer(data)

    def answer(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def control(self, path: str, query: dict[str, list[str]]) -> None:
        state = self.state
        if path == "/_stats":
            self.answer(
                _json_answer(
                    {
                        "counts": state.counts,
                        "first": state.first,
                        "last": state.last,
                        "peak_in_flight": state.peak,
                        "peak_connections": state.peak_connections,
                    }
                )
            )
        elif path == "/_arrivals":
            self.answer(_json_answer(state.arrivals.get(query["prefix"][0], [])))
        elif path == "/_answers":
            self.answer(_json_answer(state.answers.get(query["prefix"][0], [])))
        elif path == "/_fault":
            start = time.time() + float(query.get("after", ["0"])[0])
            end = start + float(query["seconds"][0])
            retry_after = query.get("retry_after", [None])[0]
            state.faults[query["prefix"][0]] = (start, end, retry_after)
            self.answer(_json_answer({"from": start, "until": end, "retry_after": retry_after}))
        elif path == "/_reset":
            state.reset()
            self.answer(_json_answer({"reset": True}))
        elif path == "/_wait":
            prefix, count = query["prefix"][0], int(query["count"][0])
            timeout = float(query.get("timeout", ["60"])[0])
            self.loop.create_task(self.wait(prefix, count, timeout))
        else:
            self.answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    async def wait(self, prefix: str, count: int, timeout: float) -> None:
        state = self.state
        if state.counts[prefix] < count:
            future = self.loop.create_future()
            state.waiters.append((prefix, count, future))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
        self.answer(
            _json_answer(
                {
                    "count": state.counts[prefix],
                    "reached": state.counts[prefix] >= count,
                    "first": state.first.get(prefix),
                    "last": state.last.get(prefix),
                }
            )
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        for request in self.pending:
            if not request.done:
                request.done = True
                self.state.answered(request, None)
        self.pending.clear()
        for connections in self.state.connections.values():
            connections.discard(id(self))


async def serve(host: str, port: int, slow_seconds: float) -> None:
    state = State(slow_seconds)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(state), host, port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--slow-ms", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.slow_ms / 1000))


if __name__ == "__main__":
    main()
