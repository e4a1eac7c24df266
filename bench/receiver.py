"""A fast HTTP/1.1 keep-alive receiver for the benchmark, in a process of its own.

tests/receiver.py (ThreadingHTTPServer: a thread and a handler object per connection, the
whole http.server parser in Python) costs more CPU per request than the engine under test,
so here one asyncio loop parses just enough HTTP/1.1 and answers by the path's first segment:

* ``/fast/...``  200 at once
* ``/slow/...``  200 after 50 ms (``--slow-ms``)
* ``/never/...`` reads the request and never answers (the client's deadline ends it)

Control (GET): ``/_stats`` the arrivals per first segment, with the first and last arrival
time; ``/_wait?prefix=/fast&count=N&timeout=T`` answers once N requests arrived there (no
polling on the benchmark's side); ``/_arrivals?prefix=/p5`` the ``webhook-id`` and arrival
time of each request; ``/_reset`` forgets everything.

Run: ``python bench/receiver.py`` prints ``PORT <n>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class State:
    def __init__(self, slow_seconds: float) -> None:
        self.slow_seconds = slow_seconds
        self.reset()

    def reset(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.arrivals: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.waiters: list[tuple[str, int, asyncio.Future]] = []

    def arrived(self, prefix: str, event_id: str) -> None:
        now = time.time()
        self.counts[prefix] += 1
        self.first.setdefault(prefix, now)
        self.last[prefix] = now
        self.arrivals[prefix].append((event_id, now))
        if self.waiters:
            still = []
            for wanted_prefix, count, future in self.waiters:
                if wanted_prefix == prefix and self.counts[prefix] >= count:
                    if not future.done():
                        future.set_result(True)
                else:
                    still.append((wanted_prefix, count, future))
            self.waiters = still


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
        self.state.arrived(prefix, headers.get("webhook-id", ""))
        if prefix == "/never":
            return
        if prefix == "/slow":
            self.loop.call_later(self.state.slow_seconds, self.answer, OK)
            return
        self.answer(OK)

    def answer(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def control(self, path: str, query: dict[str, list[str]]) -> None:
        state = self.state
        if path == "/_stats":
            self.answer(
                _json_answer({"counts": state.counts, "first": state.first, "last": state.last})
            )
        elif path == "/_arrivals":
            self.answer(_json_answer(state.arrivals.get(query["prefix"][0], [])))
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
