"""The address guard inside the transport and the engine: refused before any connect, checked
on the address actually connected to. Only loopback addresses ever see a packet: names resolve
through a stubbed resolver, and a safety net fails any connect elsewhere."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest

from django_webhooks import address_guard
from django_webhooks.models import DeliveryAttempt, Webhook
from django_webhooks.transport import Transport
from django_webhooks.worker import engine
from example_project.shop.models import Order
from tests.receiver import Receiver, Status

TIMEOUT = 1.0
MARGIN = 0.5


_real_getaddrinfo = socket.getaddrinfo


def _numeric_resolve(host: str, port: int) -> list[tuple[int, tuple]]:
    flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV  # never a DNS query
    return [
        (family, sockaddr)
        for family, _, _, _, sockaddr in _real_getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=flags
        )
    ]


@pytest.fixture(autouse=True)
def connected(connected, monkeypatch):
    """Addresses connected to; only loopback ones can be, and no name is looked up for real."""

    def no_real_lookups(*args, **kwargs):
        raise AssertionError(f"a real DNS lookup for {args[0]!r}")

    monkeypatch.setattr(socket, "getaddrinfo", no_real_lookups)
    monkeypatch.setattr(address_guard, "resolve", _numeric_resolve)
    return connected


class StubResolver:
    """Answers ``address_guard.resolve`` from a script: one list of IPs per call (last repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[tuple[int, tuple]]:
        answer = self.answers[min(len(self.calls), len(self.answers) - 1)]
        self.calls.append((host, port))
        return [
            (socket.AF_INET6, (ip, port, 0, 0)) if ":" in ip else (socket.AF_INET, (ip, port))
            for ip in answer
        ]


@pytest.fixture
def resolver(monkeypatch):
    def install(*answers: list[str]) -> StubResolver:
        stub = StubResolver(*answers)
        monkeypatch.setattr(address_guard, "resolve", stub)
        return stub

    return install


@pytest.fixture
def loopback_is_public(monkeypatch):
    """127.0.0.1 stands in for a public address; everything else is judged as usual."""
    judge = address_guard.refusal_reason
    monkeypatch.setattr(
        address_guard,
        "refusal_reason",
        lambda address: None if address == "127.0.0.1" else judge(address),
    )


def post(transport: Transport, url: str, *, allow_private: bool = False, timeout=TIMEOUT):
    return transport.post(url, b"{}", {}, timeout=timeout, allow_private=allow_private)


# --- refused before any connect --------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "explained"),
    [
        (["127.0.0.1"], "127.0.0.1 (loopback address)"),
        (["10.0.0.1"], "10.0.0.1 (private address)"),
        (["172.16.5.4"], "172.16.5.4 (private address)"),
        (["192.168.1.1"], "192.168.1.1 (private address)"),
        (["100.64.0.1"], "100.64.0.1 (shared (carrier-grade NAT) address)"),
        (["169.254.169.254"], "169.254.169.254 (link-local address)"),
        (["0.0.0.0"], "0.0.0.0 (unspecified address)"),
        (["224.0.0.1"], "224.0.0.1 (multicast address)"),
        (["::1"], "::1 (loopback address)"),
        (["fd00::1"], "fd00::1 (unique-local address)"),
        (["fe80::1"], "fe80::1 (link-local address)"),
        (["::ffff:127.0.0.1"], "::ffff:127.0.0.1 (loopback address 127.0.0.1 in IPv4-mapped form)"),
        (["::"], ":: (unspecified address)"),
        (["10.0.0.1", "::1"], "10.0.0.1 (private address), ::1 (loopback address)"),
    ],
)
def test_a_name_resolving_to_non_public_addresses_is_refused_before_any_connect(
    transport, receiver, resolver, connected, answer, explained
):
    stub = resolver(answer)
    result = post(transport, f"http://hook.test:{receiver.port}/ok")
    assert result.error == (
        f"Destination refused: hook.test resolves to {explained}; "
        "non-public destinations are not allowed."
    )
    assert (result.status, result.complete) == (None, False)
    assert stub.calls == [("hook.test", receiver.port)]
    assert connected == []
    assert receiver.connections == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "[::1]"])
def test_literal_addresses_are_judged_by_what_they_resolve_to(transport, receiver, connected, host):
    result = post(transport, f"http://{host}:{receiver.port}/ok")
    assert result.error.startswith(f"Destination refused: {host.strip('[]')} resolves to ")
    assert "(loopback address)" in result.error
    assert connected == []
    assert receiver.connections == 0


def test_allow_private_lets_loopback_through(transport, receiver, resolver, connected):
    stub = resolver(["127.0.0.1"])
    result = post(transport, f"http://hook.test:{receiver.port}/ok", allow_private=True)
    assert (result.status, result.error) == (200, "")
    assert stub.calls == [("hook.test", receiver.port)]
    assert connected == [("127.0.0.1", receiver.port)]
    assert receiver.received("/ok")[0].headers["Host"] == f"hook.test:{receiver.port}"


def test_a_connection_pooled_while_private_was_allowed_is_refused_when_it_is_not(
    transport, receiver
):
    url = receiver.script("/ok", [Status(200)])
    assert post(transport, url, allow_private=True).status == 200
    result = post(transport, url, allow_private=False)
    assert result.error == (
        "Destination refused: 127.0.0.1 is connected to 127.0.0.1 (loopback address); "
        "non-public destinations are not allowed."
    )
    assert len(receiver.received()) == 1
    # And the refused connection is gone: nothing reaches the receiver over it later.
    assert post(transport, url, allow_private=True).status == 200
    assert receiver.connections == 2


# --- what is checked is what is connected to -------------------------------------------------


@pytest.mark.usefixtures("loopback_is_public")
def test_dns_rebinding_the_resolver_is_asked_once_per_connection(
    transport, receiver, resolver, connected
):
    # First answer: an allowed address. Every later one: a refused address (127.0.0.2). A
    # transport that looked the name up again before connecting would go there.
    stub = resolver(["127.0.0.1"], ["127.0.0.2"])
    receiver.script("/once", [Status(200, close_after=True)])
    url = f"http://rebind.test:{receiver.port}/once"
    first = post(transport, url)
    assert (first.status, first.error) == (200, "")
    assert len(stub.calls) == 1
    assert connected == [("127.0.0.1", receiver.port)]
    # The receiver closes that connection; the next one needs a fresh lookup, and it is refused.
    receiver.wait_for_closed(1)
    second = post(transport, url)
    assert second.error.startswith("Destination refused: rebind.test resolves to 127.0.0.2")
    assert len(stub.calls) == 2
    assert connected == [("127.0.0.1", receiver.port)]
    assert len(receiver.received()) == 1


def test_a_refused_answer_is_not_looked_up_again(transport, resolver, connected):
    stub = resolver(["10.0.0.1", "192.168.0.1"], ["127.0.0.1"])
    result = post(transport, "http://internal.test:8080/hook")
    assert result.error.startswith(
        "Destination refused: internal.test resolves to 10.0.0.1 (private address), "
        "192.168.0.1 (private address)"
    )
    assert stub.calls == [("internal.test", 8080)]
    assert connected == []


@pytest.fixture
def twin_receivers():
    """One port, two loopback addresses: 127.0.0.1 (stands in for public) and 127.0.0.2."""
    allowed = Receiver("127.0.0.1").start()
    try:
        refused = Receiver("127.0.0.2", port=allowed.port).start()
    except OSError:
        allowed.stop()
        pytest.skip("the port is taken on 127.0.0.2")
    yield allowed, refused
    refused.stop()
    allowed.stop()


@pytest.mark.usefixtures("loopback_is_public")
def test_a_mixed_answer_connects_only_to_the_allowed_address(
    transport, resolver, connected, twin_receivers
):
    allowed, refused = twin_receivers
    resolver(["127.0.0.2", "127.0.0.1"])
    result = post(transport, f"http://mixed.test:{allowed.port}/ok")
    assert (result.status, result.error) == (200, "")
    assert connected == [("127.0.0.1", allowed.port)]
    assert (allowed.connections, refused.connections) == (1, 0)


@pytest.mark.usefixtures("loopback_is_public")
def test_a_failing_allowed_address_never_falls_back_to_a_refused_one(
    transport, resolver, connected
):
    refused = Receiver("127.0.0.2").start()  # listening; nothing listens on 127.0.0.1:port
    try:
        resolver(["127.0.0.1", "127.0.0.2"])
        result = post(transport, f"http://mixed.test:{refused.port}/ok")
    finally:
        refused.stop()
    assert result.error == "Connection refused by mixed.test."
    assert connected == [("127.0.0.1", refused.port)]
    assert refused.connections == 0


# --- resolver trouble ------------------------------------------------------------------------


def test_a_lookup_that_never_answers_is_bounded_by_the_deadline(transport, monkeypatch):
    release = threading.Event()

    def hanging(host: str, port: int):
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(address_guard, "resolve", hanging)
    started = time.monotonic()
    try:
        result = post(transport, "http://slow-dns.test/hook")
    finally:
        release.set()
    elapsed = time.monotonic() - started
    assert TIMEOUT - 0.05 <= elapsed <= TIMEOUT + MARGIN
    assert result.error == f"No complete answer within {TIMEOUT:g} s."


def test_attempts_waiting_on_one_hanging_name_share_one_lookup(transport, monkeypatch):
    release = threading.Event()
    calls: list[str] = []

    def hanging(host: str, port: int):
        calls.append(host)
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(address_guard, "resolve", hanging)
    results = []
    attempts = [
        threading.Thread(target=lambda: results.append(post(transport, "http://stuck.test/")))
        for _ in range(4)
    ]
    try:
        for attempt in attempts:
            attempt.start()
        for attempt in attempts:
            attempt.join(TIMEOUT + MARGIN + 1)
    finally:
        release.set()
    assert [r.error for r in results] == [f"No complete answer within {TIMEOUT:g} s."] * 4
    assert calls == ["stuck.test"]


def test_a_name_that_does_not_resolve(transport, monkeypatch):
    def unknown(host: str, port: int):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(address_guard, "resolve", unknown)
    result = post(transport, "http://nowhere.test/hook")
    assert result.error == "Cannot resolve nowhere.test: Name or service not known."


def test_proxy_settings_in_the_environment_are_ignored(transport, receiver, monkeypatch):
    proxy = Receiver().start()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url(""))
        result = post(transport, receiver.url("/ok"), allow_private=True)
    finally:
        proxy.stop()
    assert result.status == 200
    assert proxy.connections == 0


# --- the engine records the refusal ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_refused_destination_is_a_failed_attempt_with_its_reason_and_a_retry(
    api_key, woken, settings, resolver, connected
):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": False}
    resolver(["10.0.0.1"])
    webhook = Webhook.objects.create(
        api_key=api_key, url="http://internal.test/hook", events=["order.created"]
    )
    Order.objects.create()
    assert woken

    stats = engine.run()

    assert (stats.sent, stats.failed) == (1, 1)
    first, retry = DeliveryAttempt.objects.filter(webhook=webhook).order_by("number")
    assert first.status == DeliveryAttempt.Status.FAILED
    assert first.error == (
        "Destination refused: internal.test resolves to 10.0.0.1 (private address); "
        "non-public destinations are not allowed."
    )
    assert first.response_status is None
    assert (retry.number, retry.status) == (2, DeliveryAttempt.Status.SCHEDULED)
    assert retry.scheduled_for == first.finished_at + timedelta(seconds=60)
    assert connected == []
    webhook.refresh_from_db()
    assert webhook.is_active
