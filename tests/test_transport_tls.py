"""HTTPS against a local receiver with a test CA (trustme): verified or failed, never bypassed."""

from __future__ import annotations

import socket
import ssl
import time

import pytest
import trustme

from django_webhooks import address_guard
from django_webhooks.policy import Answer, Verdict, judge
from django_webhooks.transport import Transport
from tests.receiver import Drip, Receiver, SilentListener, Status

pytestmark = pytest.mark.usefixtures("connected")

TIMEOUT = 1.0
MARGIN = 0.5


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def ca_file(ca, tmp_path):
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def tls_receiver(ca: trustme.CA, *names: str) -> Receiver:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    return Receiver(tls=context).start()


@pytest.fixture
def secure(ca):
    server = tls_receiver(ca, "127.0.0.1", "hook.test")
    yield server
    server.stop()


@pytest.fixture
def trusting(transport, ca_file):
    """A transport that trusts the test CA, told the way requests is told: the session's verify."""
    transport.session.verify = ca_file
    return transport


def post(transport: Transport, url: str, *, timeout: float = TIMEOUT):
    started = time.monotonic()
    result = transport.post(url, b"{}", {}, timeout=timeout, allow_private=True)
    return result, time.monotonic() - started


def test_verification_is_on_by_default():
    transport = Transport()
    try:
        assert transport.session.verify is True
        assert transport.session.trust_env is False
    finally:
        transport.session.close()


def test_an_untrusted_certificate_fails_with_a_tls_error(transport, secure, monkeypatch):
    # Nothing from the environment can loosen verification either.
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    url = secure.script("/ok", [Status(200)])
    result, _ = post(transport, url)
    assert result.status is None
    assert result.error.startswith("TLS error: [SSL: CERTIFICATE_VERIFY_FAILED]")
    assert judge(Answer(result.status, result.body, result.complete)) is Verdict.FAILED
    assert secure.received() == []


def test_a_trusted_certificate_succeeds_and_the_connection_is_kept(trusting, secure):
    url = secure.script("/ok", [Status(200, b"secure")])
    for _ in range(2):
        result, _ = post(trusting, url)
        assert (result.status, result.body, result.complete, result.error) == (
            200,
            b"secure",
            True,
            "",
        )
    assert secure.connections == 1


def test_the_certificate_is_checked_against_the_name_not_the_address(
    trusting, secure, monkeypatch, connected
):
    # The transport connects to the address it resolved, and still verifies hook.test.
    monkeypatch.setattr(
        address_guard, "resolve", lambda host, port: [(socket.AF_INET, ("127.0.0.1", port))]
    )
    secure.script("/ok", [Status(200)])
    result, _ = post(trusting, secure.url("/ok", host="hook.test"))
    assert (result.status, result.error) == (200, "")
    assert connected == [("127.0.0.1", secure.port)]
    assert secure.received("/ok")[0].headers["Host"] == f"hook.test:{secure.port}"


def test_a_certificate_for_another_name_fails(trusting, ca):
    server = tls_receiver(ca, "other.test")
    try:
        result, _ = post(trusting, server.url("/ok"))
    finally:
        server.stop()
    assert result.status is None
    assert result.error.startswith("TLS error: [SSL: CERTIFICATE_VERIFY_FAILED]")
    assert "mismatch" in result.error


def test_plain_http_spoken_to_an_https_url_fails_cleanly(transport, receiver):
    result, elapsed = post(transport, receiver.url("/ok").replace("http:", "https:"))
    assert elapsed < TIMEOUT
    assert result.error.startswith("TLS error:")


def test_a_stalled_tls_handshake_is_bounded_by_the_deadline(trusting):
    listener = SilentListener()
    try:
        result, elapsed = post(trusting, listener.url(scheme="https"))
    finally:
        listener.close()
    assert TIMEOUT - 0.05 <= elapsed <= TIMEOUT + MARGIN
    assert result.error == f"No complete answer within {TIMEOUT:g} s."


def test_a_drip_fed_answer_over_tls_is_bounded_by_the_deadline(trusting, secure):
    # Over TLS the watchdog must reach the socket under the TLS layer.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    url = secure.script("/drip", [Drip(interval=0.2, answer=b"x" * 100, head=head)])
    result, elapsed = post(trusting, url)
    assert TIMEOUT - 0.05 <= elapsed <= TIMEOUT + MARGIN
    assert (result.status, result.complete) == (200, False)
    assert result.error == f"No complete answer within {TIMEOUT:g} s."
