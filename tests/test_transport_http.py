"""The HTTP layer of Transport.post with `responses` (no sockets): what is sent, what is not
followed, how failures read."""

from __future__ import annotations

import http.client
import socket
import ssl

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, ProtocolError, ReadTimeoutError

from django_webhooks import __version__
from django_webhooks.transport import MAX_ANSWER_BYTES, DestinationRefused, Transport

URL = "https://hooks.example.com/in"


def post(transport: Transport, url: str = URL, headers: dict[str, str] | None = None):
    return transport.post(url, b'{"id": "evt_1"}', headers or {}, timeout=5, allow_private=False)


def test_the_request_carries_our_headers_and_the_callers(transport, http_mock):
    http_mock.post(URL, body=b"ok")
    result = post(
        transport,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "webhook-id": "evt_1",
            "webhook-timestamp": "1700000000",
            "webhook-signature": "v1,abc=",
            "X-Webhook-Event": "order.created",
            "X-Webhook-Attempt": "1",
        },
    )
    assert (result.status, result.body, result.complete, result.error) == (200, b"ok", True, "")
    (call,) = http_mock.calls
    sent = call.request
    assert sent.method == "POST"
    assert sent.body == b'{"id": "evt_1"}'
    assert sent.headers["User-Agent"] == f"django-webhooks/{__version__}"
    assert sent.headers["Accept-Encoding"] == "identity"
    assert sent.headers["Content-Length"] == "15"
    assert sent.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent.headers["webhook-id"] == "evt_1"
    assert sent.headers["webhook-timestamp"] == "1700000000"
    assert sent.headers["webhook-signature"] == "v1,abc="
    assert sent.headers["X-Webhook-Event"] == "order.created"
    assert sent.headers["X-Webhook-Attempt"] == "1"
    assert "Cookie" not in sent.headers
    assert "Authorization" not in sent.headers


def test_no_cookie_is_kept_from_an_answer(transport, http_mock):
    http_mock.post(URL, body=b"ok", headers={"Set-Cookie": "track=1; Domain=example.com; Path=/"})
    post(transport)
    post(transport)
    assert "Cookie" not in http_mock.calls[1].request.headers
    assert len(transport.session.cookies) == 0


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirects_are_reported_not_followed(transport, http_mock, code):
    http_mock.post(
        URL, status=code, headers={"Location": "http://169.254.169.254/latest/meta-data"}
    )
    http_mock.get("http://169.254.169.254/latest/meta-data", body=b"secret")
    result = post(transport)
    assert result.status == code
    assert result.location == "http://169.254.169.254/latest/meta-data"
    assert result.error == "Redirect to http://169.254.169.254/latest/meta-data not followed."
    assert len(http_mock.calls) == 1


def test_a_redirect_without_a_location(transport, http_mock):
    http_mock.post(URL, status=302)
    result = post(transport)
    assert (result.status, result.location) == (302, "")
    assert result.error == "Redirect to (no Location) not followed."


def test_a_large_answer_is_cut_at_the_cap_and_still_judged(transport, http_mock):
    http_mock.post(URL, body=b"a" * (MAX_ANSWER_BYTES * 3))
    result = post(transport)
    assert (result.status, result.complete, result.error) == (200, True, "")
    assert result.body == b"a" * MAX_ANSWER_BYTES


def test_an_answer_at_the_cap_is_whole(transport, http_mock):
    http_mock.post(URL, body=b"b" * MAX_ANSWER_BYTES)
    result = post(transport)
    assert len(result.body) == MAX_ANSWER_BYTES
    assert result.complete


def test_a_compressed_answer_is_not_decompressed(transport, http_mock):
    # Asked for identity; a receiver that compresses anyway gets its bytes kept as they are,
    # so a small compressed body cannot expand past the cap in memory.
    gzipped = bytes.fromhex("1f8b08000000000000034b4c4a0600c241243503000000")
    http_mock.post(URL, body=gzipped, headers={"Content-Encoding": "gzip"})
    assert post(transport).body == gzipped


def _refused() -> DestinationRefused:
    return DestinationRefused(
        None,
        "Destination refused: hooks.example.com resolves to 10.0.0.1 (private address); "
        "non-public destinations are not allowed.",
    )


def _caused_by(lookup_error: socket.gaierror) -> NameResolutionError:
    try:
        raise NameResolutionError("hooks.example.com", None, lookup_error) from lookup_error
    except NameResolutionError as error:
        return error


def _wrapped(error: BaseException) -> requests.ConnectionError:
    """What requests raises for a failure urllib3 saw under a connection."""
    return requests.ConnectionError(MaxRetryError(None, URL, error))


@pytest.mark.parametrize(
    ("raised", "described"),
    [
        (requests.Timeout("read timed out"), "No complete answer within 5 s."),
        (requests.ConnectTimeout("connect timed out"), "No complete answer within 5 s."),
        (
            requests.ConnectionError(ReadTimeoutError(None, URL, "Read timed out.")),
            "No complete answer within 5 s.",
        ),
        (
            _wrapped(_refused()),
            "Destination refused: hooks.example.com resolves to 10.0.0.1 (private address); "
            "non-public destinations are not allowed.",
        ),
        (
            _wrapped(_caused_by(socket.gaierror(-2, "Name or service not known"))),
            "Cannot resolve hooks.example.com: Name or service not known.",
        ),
        (
            requests.exceptions.SSLError(
                MaxRetryError(
                    None,
                    URL,
                    ssl.SSLCertVerificationError(
                        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
                    ),
                )
            ),
            "TLS error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
        ),
        (
            _wrapped(ConnectionRefusedError(111, "Connection refused")),
            "Connection refused by hooks.example.com.",
        ),
        (
            requests.ConnectionError(
                ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))
            ),
            "Connection reset by the receiver.",
        ),
        (
            requests.ConnectionError(
                ProtocolError(
                    "Connection aborted.",
                    http.client.RemoteDisconnected("Remote end closed connection"),
                )
            ),
            "The receiver closed the connection without answering.",
        ),
        (
            requests.ConnectionError(
                ProtocolError(
                    "Connection aborted.", http.client.HTTPException("got more than 100 headers")
                )
            ),
            "Invalid answer: got more than 100 headers.",
        ),
        (
            requests.ConnectionError(
                ProtocolError("Connection aborted.", http.client.BadStatusLine("SSH-2.0-x\r\n"))
            ),
            "Invalid answer: bad status line 'SSH-2.0-x\\r\\n'.",
        ),
        (
            _wrapped(OSError(101, "Network is unreachable")),
            "Connection failed: Network is unreachable.",
        ),
        (ValueError("something odd"), "ValueError: something odd"),
    ],
)
def test_failures_are_described_plainly(transport, http_mock, raised, described):
    http_mock.post(URL, body=raised)
    result = post(transport)
    assert result.error == described
    assert (result.status, result.complete, result.body) == (None, False, b"")


@pytest.mark.parametrize("url", ["hooks.example.com/in", "ftp://hooks.example.com/in", "http://"])
def test_an_unusable_url_is_an_error_not_an_exception(transport, http_mock, url):
    result = post(transport, url)
    assert result.error.startswith("Invalid URL: ")
    assert len(http_mock.calls) == 0
