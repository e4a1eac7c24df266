"""CONTRACT §6 as a table: answer in, verdict out, first match wins."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from django_webhooks import policy
from django_webhooks.policy import Answer, Verdict

DEACTIVATING = [400, 401, 403, 404, 405, 406, 410, 411]


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (Answer(200, b"ok", complete=True), Verdict.SUCCEEDED),
        (Answer(200, b"", complete=False), Verdict.FAILED),  # the answer did not finish in time
        (Answer(201, b"created", complete=True), Verdict.FAILED),
        (Answer(204, b"", complete=True), Verdict.FAILED),
        (Answer(302, b"", complete=True), Verdict.FAILED),
        (Answer(409, b"", complete=True), Verdict.FAILED),
        (Answer(429, b"", complete=True), Verdict.FAILED),
        (Answer(500, b"", complete=True), Verdict.FAILED),
        (Answer(503, b"", complete=True), Verdict.FAILED),
        (Answer(None), Verdict.FAILED),  # timeout, refused, TLS error, reset
        *[(Answer(code, b"", complete=True), Verdict.DEACTIVATE) for code in DEACTIVATING],
        (Answer(200, b"Please UNSUBSCRIBE me, thanks", complete=True), Verdict.UNSUBSCRIBE),
        (Answer(500, b"...please unsubscribe me...", complete=True), Verdict.UNSUBSCRIBE),
        (Answer(410, b"PLEASE UNSUBSCRIBE ME", complete=True), Verdict.UNSUBSCRIBE),
        (Answer(200, b"please unsubscribe", complete=True), Verdict.SUCCEEDED),
    ],
)
def test_verdicts(answer, verdict):
    assert policy.judge(answer) is verdict


def test_the_phrase_counts_only_in_an_answer():
    assert policy.judge(Answer(None, b"please unsubscribe me")) is Verdict.FAILED


@override_settings(
    WEBHOOKS={
        "SUCCESS_STATUS_CODES": [200, 202],
        "DEACTIVATE_STATUS_CODES": [418],
        "UNSUBSCRIBE_PHRASE": "Stop It",
    }
)
def test_the_tables_come_from_settings_read_at_use():
    assert policy.judge(Answer(202, b"", complete=True)) is Verdict.SUCCEEDED
    assert policy.judge(Answer(418, b"", complete=True)) is Verdict.DEACTIVATE
    assert policy.judge(Answer(410, b"", complete=True)) is Verdict.FAILED
    assert policy.judge(Answer(200, b"please STOP IT", complete=True)) is Verdict.UNSUBSCRIBE


def test_default_schedule_six_attempts_then_never():
    ended = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    gaps = [policy.next_attempt_due(number, ended) for number in range(1, 7)]
    assert [gap - ended for gap in gaps[:5]] == [
        timedelta(seconds=seconds) for seconds in (60, 120, 180, 240, 300)
    ]
    assert gaps[5] is None  # after the 6th attempt: never a 7th
    assert policy.next_attempt_due(0, ended) is None


NOTE = "Please unsubscribe me from the newsletter, and deliver after 5 pm."
SENT = json.dumps(
    {"id": "evt_1", "type": "order.created", "data": {"object": {"id": 7, "note": NOTE}}}
).encode()


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        # The receiver quotes the request back (a 422 with the order): an echo, not a request.
        (b'{"error": "invalid", "request": ' + SENT + b"}", Verdict.FAILED),
        (b'{"errors": [{"field": "note", "value": "' + NOTE.encode() + b'"}]}', Verdict.FAILED),
        # Re-encoded as XML, with other spacing and case: still an echo.
        (
            b"<error><note>PLEASE UNSUBSCRIBE ME from the newsletter, and</note></error>",
            Verdict.FAILED,
        ),
        # The receiver's own words, beside the echo or alone: it asks.
        (b"Please unsubscribe me. Echo: " + SENT, Verdict.UNSUBSCRIBE),
        (b"please unsubscribe me", Verdict.UNSUBSCRIBE),
    ],
)
def test_an_echo_of_the_payload_is_not_the_receiver_asking(body, verdict):
    assert policy.judge(Answer(422, body, complete=True, sent=SENT)) is verdict


def test_without_the_phrase_in_the_payload_the_seeds_rule_is_unchanged():
    sent = b'{"data": {"object": {"note": "leave at the door"}}}'
    answer = Answer(500, b'{"echo": {"note": "please unsubscribe me"}}', complete=True, sent=sent)
    assert policy.judge(answer) is Verdict.UNSUBSCRIBE
