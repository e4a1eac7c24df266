"""The transport: one keep-alive session per process, one POST per attempt.

Keep-alive connections are pooled per destination. A request that fails on a reused
connection before a byte of answer came back (the receiver closed it as it was being reused)
goes once more on a fresh connection, within the same deadline: receivers drop duplicates
by ``webhook-id``, and the alternative is a certain retry minutes later. Redirects are never
followed; the whole body is read, within the deadline, and its first
:data:`MAX_ANSWER_BYTES` kept; cookies are neither kept nor sent.
"""

from __future__ import annotations

import http.cookiejar
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.util.retry import Retry

from .. import __version__
from ..conf import webhook_settings
from ..process_local import per_process
from .connections import GuardedAdapter
from .deadline import Deadline
from .errors import closed_unanswered, describe, host_of, timed_out

MAX_ANSWER_BYTES = 64 * 1024
READ_CHUNK_BYTES = 64 * 1024
USER_AGENT = f"django-webhooks/{__version__}"


@dataclass
class Result:
    status: int | None = None
    body: bytes = b""
    complete: bool = False
    error: str = ""
    duration_ms: int = 0
    location: str = ""
    #: The answer's Retry-After header, as received (pacing reads it on 429 and 503).
    retry_after: str = ""
    #: The answer came from a non-public address (allowed by ALLOW_PRIVATE_DESTINATIONS).
    from_private_address: bool = False


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
                connection = getattr(response.raw, "connection", None)
                result.from_private_address = bool(getattr(connection, "_peer_refusal", None))
                result.status = response.status_code
                result.location = response.headers.get("Location", "")
                result.retry_after = response.headers.get("Retry-After", "")[:64]
                # The whole answer must arrive within the deadline; only its first
                # MAX_ANSWER_BYTES are kept.
                ended = _read_answer(response.raw, answer)
                result.complete = ended and not deadline.expired
            except Exception as error:  # noqa: BLE001 - every failure is an outcome to record
                result.error = describe(error, deadline, timeout, host_of(url))
        result.body = bytes(answer[:MAX_ANSWER_BYTES])
        # The deadline is over: its watchdog no longer touches these sockets.
        if response is not None:
            if result.complete and ended and not deadline.expired:
                response.raw.release_conn()
            else:
                response.close()
        if not result.complete and not result.error:
            result.error = timed_out(timeout)  # the deadline ended a read that raised nothing
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
                # or environment to merge (see docs/performance.md for what that saves).
                return adapter.send(
                    request,
                    stream=True,
                    timeout=(timeout, timeout),
                    verify=True if self.session.verify is None else self.session.verify,
                    proxies={},
                )
            except requests.ConnectionError as error:
                failures += 1
                # Each stale pooled connection is used up by one failure; a fresh one follows.
                if not (
                    deadline.reused_connection
                    and not deadline.expired
                    and failures <= self.connections_per_host
                    and closed_unanswered(error)
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
    """Read the body to its end, keeping its first MAX_ANSWER_BYTES in ``answer``.

    The rest is read and dropped: an answer counts only once it ended (within the deadline,
    which ends the read of one that never does). True when the end was reached.
    """
    while True:
        # A read after the last byte is what detects a body cut short of its Content-Length.
        chunk = raw.read(READ_CHUNK_BYTES, decode_content=False)
        if not chunk:
            return True
        room = MAX_ANSWER_BYTES - len(answer)
        if room > 0:
            answer += chunk[:room]


@per_process
def _transport() -> Transport:
    # A pooled connection per thread that may be talking to one host: a slow receiver with
    # dozens of requests in flight keeps its connections instead of reconnecting each time.
    return Transport(connections_per_host=max(webhook_settings.CONCURRENCY, 16))


def get_transport() -> Transport:
    """The process's transport (a forked worker builds its own)."""
    return _transport.get()
