"""Connections that check the address they connect to, and read answers within bounds.

The connection classes resolve the host themselves, refuse non-public addresses (see
:mod:`django_webhooks.address_guard`) and connect to an address they checked, so there is no
second lookup; a pooled connection is checked again against the policy of the attempt that
reuses it. At most :data:`MAX_HEADER_BYTES` of status line and headers are read.
"""

from __future__ import annotations

import http.client
import socket
from typing import TYPE_CHECKING, Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from .. import address_guard
from ..exceptions import DestinationRefused
from .deadline import Deadline, current_deadline
from .resolver import Addresses, resolver

if TYPE_CHECKING:
    from urllib3.response import HTTPResponse

    # The mixin is only ever mixed into urllib3's connections: type it as one of them.
    _Connection = HTTPConnection
else:
    _Connection = object

MAX_HEADER_BYTES = 64 * 1024


class HeaderBlockTooLarge(http.client.HTTPException):
    """The status line and headers (interim 1xx answers included) exceed MAX_HEADER_BYTES."""


class _HeaderBudget:
    """The response's file while http.client reads the status line and headers."""

    def __init__(self, fp: Any) -> None:
        self._fp = fp
        self._left = MAX_HEADER_BYTES

    def readline(self, limit: int = -1) -> bytes:
        # Never ask for more than the budget allows, so a huge block is never buffered.
        cap = self._left + 1 if limit < 0 else min(limit, self._left + 1)
        line: bytes = self._fp.readline(cap)
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
        # http.client only calls readline() on fp while it reads the head.
        self.fp = _HeaderBudget(fp)  # type: ignore[assignment]
        try:
            super().begin()
        finally:
            if self.fp is not None:  # None: begin() closed it (an answer without a body)
                self.fp = fp


class _GuardedConnectionMixin(_Connection):
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
        allowed: list[tuple[int, Any, str | None]] = []
        refusals: list[str] = []
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

    def _resolve(self, deadline: Deadline | None) -> Addresses:
        try:
            if deadline is None:
                return address_guard.resolve(self._dns_host, self.port)
            lookup = resolver.get().lookup(self._dns_host, self.port)
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

    def request(self, *args: Any, **kwargs: Any) -> None:
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

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's own
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
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }
