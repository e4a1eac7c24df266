"""address_guard.refusal_reason for every category: addresses as values, never connected to."""

from __future__ import annotations

import pytest

from django_webhooks.address_guard import refusal_reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback address"),
        ("127.255.255.254", "loopback address"),
        ("::1", "loopback address"),
        ("10.0.0.1", "private address"),
        ("10.255.255.255", "private address"),
        ("172.16.0.1", "private address"),
        ("172.31.255.254", "private address"),
        ("192.168.1.1", "private address"),
        ("100.64.0.1", "shared (carrier-grade NAT) address"),
        ("100.127.255.254", "shared (carrier-grade NAT) address"),
        ("169.254.0.1", "link-local address"),
        ("169.254.169.254", "link-local address"),  # cloud metadata services
        ("fe80::1", "link-local address"),
        ("fe80::1%eth0", "link-local address"),
        ("febf:ffff::1", "link-local address"),
        ("fc00::1", "unique-local address"),
        ("fd12:3456:789a::1", "unique-local address"),
        ("fec0::1", "site-local address"),
        ("0.0.0.0", "unspecified address"),
        ("0.1.2.3", "'this network' address"),
        ("::", "unspecified address"),
        ("224.0.0.1", "multicast address"),
        ("239.255.255.250", "multicast address"),
        ("ff02::1", "multicast address"),
        ("ff0e::1", "multicast address"),
        ("255.255.255.255", "broadcast address"),
        ("240.0.0.1", "reserved address"),
        ("192.88.99.1", "reserved address"),
        ("192.0.0.8", "IETF protocol assignment"),
        ("192.0.2.1", "documentation address"),
        ("198.51.100.1", "documentation address"),
        ("203.0.113.1", "documentation address"),
        ("2001:db8::1", "documentation address"),
        ("3fff::1", "documentation address"),
        ("198.18.0.1", "benchmarking address"),
        ("2001:2::1", "benchmarking address"),
        ("100::1", "discard-only address"),
        ("64:ff9b:1::1", "local-use NAT64 address"),
        ("2001:10::1", "IETF protocol assignment"),
        ("::7f00:1", "reserved address"),  # deprecated IPv4-compatible ::127.0.0.1
        ("4000::1", "reserved address"),
        ("5f00::1", "reserved address"),
    ],
)
def test_refused(address, reason):
    assert refusal_reason(address) == reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("::ffff:127.0.0.1", "loopback address 127.0.0.1 in IPv4-mapped form"),
        ("::ffff:10.0.0.1", "private address 10.0.0.1 in IPv4-mapped form"),
        ("::ffff:169.254.169.254", "link-local address 169.254.169.254 in IPv4-mapped form"),
        ("::ffff:0.0.0.0", "unspecified address 0.0.0.0 in IPv4-mapped form"),
        ("64:ff9b::a00:1", "private address 10.0.0.1 in NAT64 form"),
        ("64:ff9b::7f00:1", "loopback address 127.0.0.1 in NAT64 form"),
        ("2002:a00:1::1", "private address 10.0.0.1 in 6to4 form"),
        ("2002:7f00:1::1", "loopback address 127.0.0.1 in 6to4 form"),
        ("2002:c0a8:101::1", "private address 192.168.1.1 in 6to4 form"),
        # Teredo: server 65.54.227.120, client 10.0.0.1 (stored inverted: f5ff:fffe).
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private address 10.0.0.1 in Teredo form"),
        # Teredo with a private server half.
        ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "private address 10.0.0.1 in Teredo form"),
    ],
)
def test_refused_when_an_embedded_ipv4_address_is(address, reason):
    assert refusal_reason(address) == reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",  # just below the shared range
        "100.128.0.0",  # just above it
        "172.15.255.255",
        "172.32.0.0",
        "169.253.255.255",
        "192.0.1.1",
        "223.255.255.254",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",  # DNS64 networks give v4-only hosts such addresses
        "2002:808:808::1",
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo: server and client (8.8.8.8) public
    ],
)
def test_public_addresses_are_allowed(address):
    assert refusal_reason(address) is None


def test_not_an_address_is_an_error():
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        refusal_reason("example.com")
