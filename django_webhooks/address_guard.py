"""Which addresses a delivery may connect to (SSRF guard).

The transport resolves the host itself, asks :func:`refusal_reason` about every address and
connects to an allowed one directly, so what was checked is what is connected to: no second
lookup, no DNS-rebinding window.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def resolve(host: str, port: int) -> list[tuple[int, Any]]:
    """``(family, sockaddr)`` for every address of ``host`` (TCP)."""
    return [
        (family, sockaddr)
        for family, _type, _proto, _name, sockaddr in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
    ]


def refusal_reason(address: str) -> str | None:
    """Why a delivery must not go to ``address``; None for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            reason = _reason(embedded)
            if reason:
                return f"{reason} (embedded in {ip})"
    return _reason(ip)


def _reason(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_private:
        return "private address"
    if ip.is_reserved:
        return "reserved address"
    if not ip.is_global:
        return "non-public address"
    return None
