"""Transport.post against real sockets on 127.0.0.1: answers, the hard deadline, hostile receivers,
keep-alive. Every receiver here is loopback; ``allow_private=True`` lets the guard pass it."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc

import pytest

from django_webhooks.policy import Answer, Verdict, judge
from django_webhooks.transport import MAX_ANSWER_BYTES, USER_AGENT, Deadline, Transport
from django_webhooks.transport import deadline as deadline_module
from tests.receiver import (
    Big,
    Drip,
    DropNextRequest,
    EndlessChunks,
    ManyHeaders,
    Never,
    Redirect,
    Reset,
    SilentListener,
    Status,
)

pytestmark = pytest.mark.usefixtures("connected")

TIMEOUT = 1.0
#: How late a post may return after its deadline on a loaded 2-core machine.
MARGIN = 0.5


def post(transport: Transport, url: str, *, timeout: float = TIMEOUT, body: bytes = b"{}"):
    started = time.monotonic()
    result = transport.post(
        url, body, {"Content-Type": "application/json"}, timeout=timeout, allow_private=True
    )
    return result, time.monotonic() - started


def verdict(result) -> Verdict:
    return judge(Answer(status=result.status, body=result.body, complete=result.complete))


# --- answers ---------------------------------------------------------------------------------


def test_complete_200(transport, receiver):
    url = receiver.script("/ok", [Status(200, b"thanks")])
    result, elapsed = post(transport, url, body=b'{"id": 1}')
    assert (result.status, result.body, result.complete, result.error) == (200, b"thanks", True, "")
    assert 0 <= result.duration_ms <= elapsed * 1000 + 1
    (request,) = receiver.received("/ok")
    assert request.body == b'{"id": 1}'
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept-Encoding"] == "identity"
    assert request.headers["Content-Type"] == "application/json"
    assert verdict(result) is Verdict.SUCCEEDED


@pytest.mark.parametrize("code", [201, 204, 400, 410, 500, 503])
def test_other_statuses_are_reported_as_they_are(transport, receiver, code):
    body = b"" if code == 204 else b"nope"
    url = receiver.script("/status", [Status(code, body)])
    result, _ = post(transport, url)
    assert (result.status, result.body, result.complete, result.error) == (code, body, True, "")


# --- the deadline ----------------------------------------------------------------------------


def assert_deadline_held(result, elapsed: float, timeout: float = TIMEOUT) -> None:
    assert timeout - 0.05 <= elapsed <= timeout + MARGIN, f"returned after {elapsed:.3f} s"
    assert not result.complete
    assert result.error == f"No complete answer within {timeout:g} s."
    assert verdict(result) is Verdict.FAILED


def test_deadline_against_a_receiver_that_never_answers(transport, receiver):
    url = receiver.script("/never", [Never()])
    result, elapsed = post(transport, url)
    assert_deadline_held(result, elapsed)
    assert result.status is None
    receiver.wait_for(1, "/never")


def test_deadline_against_a_drip_fed_status_line(transport, receiver):
    url = receiver.script("/drip", [Drip(interval=0.2)])
    result, elapsed = post(transport, url)
    assert_deadline_held(result, elapsed)
    assert result.status is None


def test_deadline_against_drip_fed_headers(transport, receiver):
    head = b"HTTP/1.1 200 OK\r\n"
    headers = b"X-Slow: " + b"z" * 200 + b"\r\nContent-Length: 2\r\n\r\nok"
    url = receiver.script("/drip-headers", [Drip(interval=0.05, answer=headers, head=head)])
    result, elapsed = post(transport, url)
    assert_deadline_held(result, elapsed)


def test_deadline_against_a_drip_fed_body(transport, receiver):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    url = receiver.script("/drip-body", [Drip(interval=0.2, answer=b"x" * 100, head=head)])
    result, elapsed = post(transport, url)
    assert_deadline_held(result, elapsed)
    # The status line arrived in time, the answer did not: a 200 that is not a success.
    assert result.status == 200


def test_what_arrived_before_the_deadline_is_kept_and_judged(transport, receiver):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nPlease unsubscribe me. "
    url = receiver.script("/drip-then-stop", [Drip(interval=0.2, answer=b"x" * 100, head=head)])
    result, elapsed = post(transport, url)
    assert TIMEOUT - 0.05 <= elapsed <= TIMEOUT + MARGIN
    assert (result.status, result.complete) == (200, False)
    assert result.error == f"No complete answer within {TIMEOUT:g} s."
    assert result.body.startswith(b"Please unsubscribe me. x")
    assert judge(Answer(result.status, result.body, result.complete)) is Verdict.UNSUBSCRIBE


def test_deadline_against_a_drip_fed_close_delimited_body(transport, receiver):
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    url = receiver.script("/drip-eof", [Drip(interval=0.2, answer=b"x" * 100, head=head)])
    result, elapsed = post(transport, url)
    assert_deadline_held(result, elapsed)


def test_deadline_against_a_slow_first_byte(transport, receiver):
    url = receiver.script("/slow", [Status(200, delay=TIMEOUT + 2)])
    result, elapsed = post(transport, url)
    assert_deadline_held(result, elapsed)


def test_deadline_against_a_listener_that_never_reads(transport):
    listener = SilentListener()
    try:
        result, elapsed = post(transport, listener.url())
    finally:
        listener.close()
    assert_deadline_held(result, elapsed)


def test_deadline_frees_a_worker_thread(transport, receiver):
    url = receiver.script("/never", [Never()])
    results = []
    worker = threading.Thread(target=lambda: results.append(post(transport, url)))
    worker.start()
    worker.join(TIMEOUT + MARGIN + 1)
    assert not worker.is_alive()
    assert results[0][0].error == f"No complete answer within {TIMEOUT:g} s."


def test_an_answer_just_inside_the_deadline_succeeds(transport, receiver):
    url = receiver.script("/late", [Status(200, b"ok", delay=0.3)])
    result, elapsed = post(transport, url)
    assert (result.status, result.complete, result.error) == (200, True, "")
    assert elapsed < TIMEOUT


def test_one_attempts_deadline_leaves_a_concurrent_attempt_alone(transport, receiver):
    # Same receiver, same pool, two threads: the first deadline fires while the second
    # attempt is still waiting for its answer.
    never = receiver.script("/never", [Never()])
    slow = receiver.script("/slow", [Status(200, b"slow", delay=TIMEOUT + 0.3)])
    results: dict[str, object] = {}
    threads = [
        threading.Thread(target=lambda: results.update(never=post(transport, never)[0])),
        threading.Thread(
            target=lambda: results.update(slow=post(transport, slow, timeout=TIMEOUT + 2)[0])
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT + 4)
    assert results["never"].error == f"No complete answer within {TIMEOUT:g} s."
    assert (results["slow"].status, results["slow"].body, results["slow"].error) == (
        200,
        b"slow",
        "",
    )


# --- hostile answers -------------------------------------------------------------------------


def test_a_chunked_answer_is_read_whole(transport, receiver):
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    url = receiver.script("/chunked", [Drip(interval=0, head=answer, answer=b"")])
    result, _ = post(transport, url)
    assert (result.status, result.body, result.complete, result.error) == (200, b"abcde", True, "")


def test_an_endless_run_of_interim_answers_is_cut_at_the_header_cap(transport, receiver):
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" * 20_000
    url = receiver.script("/continue", [Drip(interval=0, head=interim, answer=b"")])
    result, elapsed = post(transport, url)
    assert elapsed < TIMEOUT
    assert result.status is None
    assert result.error == "Invalid answer: status line and headers larger than 64 KiB."


def test_a_100_mb_answer_is_cut_at_64_kib_quickly_and_in_flat_memory(transport, receiver):
    url = receiver.script("/big", [Big(100 * 1024 * 1024)])
    tracemalloc.start()
    try:
        result, elapsed = post(transport, url, timeout=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == 200
    assert len(result.body) == MAX_ANSWER_BYTES
    assert result.error == ""
    assert elapsed < 2
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"
    # The receiver closes after it (Connection: close): the next post needs a new one.
    url_ok = receiver.script("/ok", [Status(200)])
    assert post(transport, url_ok)[0].status == 200
    assert receiver.connections == 2


def test_a_200_that_never_finishes_is_no_success(transport, receiver):
    # Either way the whole answer cannot arrive within the deadline: it is a failed attempt.
    for behaviour in (Big(10**12), EndlessChunks()):
        url = receiver.script(f"/never-ends-{type(behaviour).__name__}", [behaviour])
        result, elapsed = post(transport, url, timeout=1)
        assert result.status == 200
        assert not result.complete
        assert verdict(result) is Verdict.FAILED
        assert result.error == "No complete answer within 1 s."
        assert len(result.body) == MAX_ANSWER_BYTES  # the excerpt is still kept
        assert elapsed < 1.5


def test_a_long_answer_that_ends_in_time_succeeds_with_its_first_64_kib_kept(transport, receiver):
    url = receiver.script("/megabyte", [Big(1024 * 1024)])
    result, _elapsed = post(transport, url)
    assert verdict(result) is Verdict.SUCCEEDED
    assert len(result.body) == MAX_ANSWER_BYTES


def test_a_huge_header_block_fails_cleanly(transport, receiver):
    url = receiver.script("/headers", [ManyHeaders(count=10_000)])
    tracemalloc.start()
    try:
        result, elapsed = post(transport, url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < TIMEOUT
    assert result.status is None
    assert not result.complete
    assert "header" in result.error
    assert peak < 1024 * 1024, f"peak {peak} bytes"


def test_a_large_header_block_under_the_line_limits_is_refused(transport, receiver):
    # 90 lines of 4 KiB: within http.client's 100 lines of 64 KiB, over our 64 KiB in all.
    url = receiver.script("/fat-headers", [ManyHeaders(count=90, value_size=4096)])
    tracemalloc.start()
    try:
        result, _ = post(transport, url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status is None
    assert "header" in result.error
    assert peak < 1024 * 1024, f"peak {peak} bytes"


def test_a_redirect_is_reported_not_followed(transport, receiver, connected):
    url = receiver.script("/moved", [Redirect("http://10.0.0.1/admin", code=302)])
    result, _ = post(transport, url)
    assert result.status == 302
    assert result.location == "http://10.0.0.1/admin"
    assert result.error == "Redirect to http://10.0.0.1/admin not followed."
    assert verdict(result) is Verdict.FAILED
    assert len(receiver.received()) == 1
    assert {host for host, _port in connected} == {"127.0.0.1"}


def test_a_reset_mid_answer_fails_with_a_clear_error(transport, receiver):
    url = receiver.script("/reset", [Reset()])
    result, elapsed = post(transport, url)
    assert elapsed < TIMEOUT
    assert not result.complete
    assert result.error == "Connection reset by the receiver."
    assert verdict(result) is Verdict.FAILED


def test_a_short_body_and_a_close_mid_answer_fails(transport, receiver):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    url = receiver.script("/short", [Drip(interval=0, answer=b"only ten b", head=head)])
    result, elapsed = post(transport, url)
    assert elapsed < TIMEOUT
    assert (result.status, result.complete) == (200, False)
    assert result.error.startswith("The receiver closed the connection mid-answer")
    assert verdict(result) is Verdict.FAILED


def test_cookies_are_neither_kept_nor_sent_back(transport, receiver):
    cookie = {"Set-Cookie": "session=abc; Path=/"}
    url = receiver.script("/cookie", [Status(200, headers=cookie)])
    post(transport, url)
    post(transport, url)
    _first, second = receiver.received("/cookie")
    assert "Cookie" not in second.headers
    assert len(transport.session.cookies) == 0


# --- keep-alive ------------------------------------------------------------------------------


def test_posts_to_one_receiver_reuse_one_connection(transport, receiver):
    url = receiver.script("/ok", [Status(200)])
    for _ in range(3):
        assert post(transport, url)[0].status == 200
    assert receiver.connections == 1


def test_a_connection_the_receiver_closed_between_posts_is_replaced(transport, receiver):
    url = receiver.script("/once", [Status(200, close_after=True)])
    assert post(transport, url)[0].status == 200
    receiver.wait_for_closed(1)
    result, _ = post(transport, url)
    assert (result.status, result.error) == (200, "")
    assert receiver.connections == 2


def test_a_connection_closed_as_it_is_reused_is_retried_on_a_fresh_one(transport, receiver):
    url = receiver.script("/stale", [DropNextRequest(), Status(200, b"second")])
    assert post(transport, url)[0].status == 200
    result, _ = post(transport, url)
    assert (result.status, result.body, result.error) == (200, b"second", "")
    assert receiver.connections == 2


def test_a_fresh_connection_that_fails_is_not_retried(transport, receiver):
    url = receiver.script("/reset", [Reset(), Status(200)])
    result, _ = post(transport, url)
    assert result.error
    assert len(receiver.received("/reset")) == 1


def test_a_deadline_that_fired_never_touches_the_next_user_of_the_connection(transport, receiver):
    # The first post ends well before its deadline and leaves its connection in the pool; the
    # second reuses it and is still waiting for its answer when that first deadline passes.
    fast = receiver.script("/fast", [Status(200)])
    slow = receiver.script("/slow", [Status(200, b"slow", delay=TIMEOUT)])
    assert post(transport, fast, timeout=0.5)[0].status == 200
    result, _ = post(transport, slow, timeout=TIMEOUT + 2)
    assert (result.status, result.body, result.error) == (200, b"slow", "")
    assert receiver.connections == 1


def test_a_connection_whose_deadline_fired_is_not_reused(transport, receiver):
    url = receiver.script("/never-then-ok", [Never(), Status(200)])
    assert post(transport, url)[0].error
    result, _ = post(transport, url)
    assert (result.status, result.error) == (200, "")
    assert receiver.connections == 2


def test_the_watchdog_finishes_shutting_down_before_the_owner_lets_go(monkeypatch):
    # Interleaving forced: the watchdog is paused between deciding to shut a socket and doing
    # it. The request's end must wait for it, or the socket could already serve another post.
    order: list[str] = []
    paused, resume = threading.Event(), threading.Event()

    def slow_shutdown(sock) -> None:
        order.append("shutdown starts")
        paused.set()
        resume.wait(5)
        order.append("shutdown ends")

    monkeypatch.setattr(deadline_module, "_shutdown", slow_shutdown)
    left, right = socket.socketpair()
    try:
        deadline = Deadline(60, allow_private=True)
        deadline.__enter__()
        deadline.register(left)
        watchdog = threading.Thread(target=deadline.expire)
        watchdog.start()
        assert paused.wait(5)
        owner = threading.Thread(
            target=lambda: (deadline.__exit__(None, None, None), order.append("exit"))
        )
        owner.start()
        owner.join(0.3)
        resume.set()
        watchdog.join(5)
        owner.join(5)
    finally:
        resume.set()
        left.close()
        right.close()
    assert order == ["shutdown starts", "shutdown ends", "exit"]
