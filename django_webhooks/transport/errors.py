"""Why an attempt failed, in words for the delivery log."""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError

from ..exceptions import DestinationRefused
from .deadline import Deadline

E = TypeVar("E", bound=BaseException)


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


def _first(causes: list[BaseException], kind: type[E] | tuple[type[E], ...]) -> E | None:
    return next((cause for cause in causes if isinstance(cause, kind)), None)


def closed_unanswered(error: BaseException) -> bool:
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


def timed_out(timeout: float) -> str:
    return f"No complete answer within {timeout:g} s."


def describe(error: BaseException, deadline: Deadline, timeout: float, host: str) -> str:
    if deadline.expired:
        return timed_out(timeout)
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
        return timed_out(timeout)
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
            return f"Invalid answer: bad status line {invalid.args[0][:200]!r}."
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


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url
