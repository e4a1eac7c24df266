"""Which addresses a delivery may connect to (SSRF guard).

The transport resolves the host itself, asks :func:`refusal_reason` about every address and
connects to an allowed one directly, so what was checked is what is connected to: no second
lookup, no DNS-rebinding window.

The refused ranges are spelled out below (from the IANA special-purpose address registries)
rather than taken from :mod:`ipaddress`'s ``is_private``/``is_global``, whose lists differ
between Python releases; those flags remain a last net under the tables. An IPv6 address
that carries an IPv4 one (IPv4-mapped, NAT64, 6to4, Teredo) is judged by what it carries,
since that is where the packets end up.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# First match wins: the more specific ranges come first.
_REFUSED_V4: list[tuple[ipaddress.IPv4Network, str]] = [
    (_V4("0.0.0.0/32"), "unspecified address"),
    (_V4("0.0.0.0/8"), "'this network' address"),
    (_V4("10.0.0.0/8"), "private address"),
    (_V4("100.64.0.0/10"), "shared (carrier-grade NAT) address"),
    (_V4("127.0.0.0/8"), "loopback address"),
    (_V4("169.254.0.0/16"), "link-local address"),
    (_V4("172.16.0.0/12"), "private address"),
    (_V4("192.0.0.0/24"), "IETF protocol assignment"),
    (_V4("192.0.2.0/24"), "documentation address"),
    (_V4("192.88.99.0/24"), "reserved address"),
    (_V4("192.168.0.0/16"), "private address"),
    (_V4("198.18.0.0/15"), "benchmarking address"),
    (_V4("198.51.100.0/24"), "documentation address"),
    (_V4("203.0.113.0/24"), "documentation address"),
    (_V4("224.0.0.0/4"), "multicast address"),
    (_V4("255.255.255.255/32"), "broadcast address"),
    (_V4("240.0.0.0/4"), "reserved address"),
]

_REFUSED_V6: list[tuple[ipaddress.IPv6Network, str]] = [
    (_V6("::/128"), "unspecified address"),
    (_V6("::1/128"), "loopback address"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64 address"),
    (_V6("100::/64"), "discard-only address"),
    (_V6("2001:2::/48"), "benchmarking address"),
    (_V6("2001:db8::/32"), "documentation address"),
    (_V6("2001::/23"), "IETF protocol assignment"),
    (_V6("3fff::/20"), "documentation address"),
    (_V6("5f00::/16"), "reserved address"),
    (_V6("fc00::/7"), "unique-local address"),
    (_V6("fe80::/10"), "link-local address"),
    (_V6("fec0::/10"), "site-local address"),
    (_V6("ff00::/8"), "multicast address"),
]
# Global unicast is 2000::/3; everything outside it not named above is reserved.
_GLOBAL_UNICAST_V6 = _V6("2000::/3")
_NAT64_V6 = _V6("64:ff9b::/96")


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
    if isinstance(ip, ipaddress.IPv4Address):
        return _reason_v4(ip)
    embedded = _embedded_ipv4(ip)
    if embedded:
        kind, carried = embedded
        for v4 in carried:
            reason = _reason_v4(v4)
            if reason:
                return f"{reason} {v4} in {kind} form"
        return None
    return _reason_v6(ip)


def _reason_v4(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _REFUSED_V4:
        if ip in network:
            return reason
    if not ip.is_global:
        return "non-public address"
    return None


def _reason_v6(ip: ipaddress.IPv6Address) -> str | None:
    for network, reason in _REFUSED_V6:
        if ip in network:
            return reason
    if ip not in _GLOBAL_UNICAST_V6:
        return "reserved address"
    if not ip.is_global:
        return "non-public address"
    return None


def _embedded_ipv4(
    ip: ipaddress.IPv6Address,
) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    if ip.ipv4_mapped:
        return "IPv4-mapped", [ip.ipv4_mapped]
    if ip in _NAT64_V6:
        return "NAT64", [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour:
        return "6to4", [ip.sixtofour]
    if ip.teredo:
        return "Teredo", list(ip.teredo)
    return None
