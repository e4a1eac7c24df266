"""The store's delivery policy (README: "The delivery promise"): an answer in, a verdict out.

Judged in this order, first match wins:

=====================================================  ===============
the answer's body says UNSUBSCRIBE_PHRASE (any case),     UNSUBSCRIBE: delete the webhook
  not as an echo of the payload we sent
the status is in DEACTIVATE_STATUS_CODES                  DEACTIVATE: is_active = False
the status is in SUCCESS_STATUS_CODES and the whole       SUCCEEDED
  answer (status, headers, all of the body) arrived
  within TIMEOUT
anything else (other status, timeout, error, redirect,    FAILED: retry RETRY_DELAYS[n-1] s
  a body that never ends)                                 after this attempt ended, until
                                                          MAX_ATTEMPTS (len + 1) are spent
=====================================================  ===============

The phrase is looked for in what is kept of the answer: its first 64 KiB (the transport
reads the rest, to know that it ended, but keeps none of it). An echo: a receiver that
answers with (part of) the request, e.g. a 422 quoting the order, must not get itself deleted
because a customer wrote the phrase into an order note. Each place the phrase appears in the
answer is compared, with the words around it, against the payload sent; only a place that
is not a copy of the payload counts.

A redelivery asked for by hand (admin, API, ``webhooks_recover``) is one try, not retried.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from .conf import webhook_settings


class Verdict(enum.Enum):
    UNSUBSCRIBE = "unsubscribe"
    DEACTIVATE = "deactivate"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Answer:
    """What came back from one attempt, as far as the policy cares."""

    status: int | None  # None: no status line arrived (timeout, refused, TLS, reset)
    body: bytes = b""
    complete: bool = False  # the whole answer arrived within TIMEOUT
    sent: bytes = b""  # the request's body, to tell an echo from the receiver's own words


def judge(answer: Answer) -> Verdict:
    phrase = webhook_settings.UNSUBSCRIBE_PHRASE
    if answer.status is not None and phrase and _asks_to_unsubscribe(answer, phrase):
        return Verdict.UNSUBSCRIBE
    if answer.status in webhook_settings.DEACTIVATE_STATUS_CODES:
        return Verdict.DEACTIVATE
    if answer.complete and answer.status in webhook_settings.SUCCESS_STATUS_CODES:
        return Verdict.SUCCEEDED
    return Verdict.FAILED


def next_attempt_due(number: int, finished_at: datetime) -> datetime | None:
    """When attempt ``number + 1`` goes, after attempt ``number`` failed; None: never."""
    delays = webhook_settings.RETRY_DELAYS
    if number < 1 or number > len(delays):
        return None
    return finished_at + timedelta(seconds=delays[number - 1])


#: How much of what surrounds the phrase in the answer must match the payload sent (letters
#: and digits, beyond the phrase) for the phrase to count as an echo of it.
ECHO_CONTEXT = 12
_NOT_A_WORD_CHARACTER = re.compile(r"[\W_]+")


def _asks_to_unsubscribe(answer: Answer, phrase: str) -> bool:
    body = answer.body.decode("utf-8", errors="replace")
    if phrase.casefold() not in body.casefold():
        return False
    # An echo is compared without punctuation, spaces and case, so that one re-encoded
    # (JSON quoted in XML, escaped quotes) is still recognised.
    text, wanted = _words(body), _words(phrase)
    sent = _words(answer.sent.decode("utf-8", errors="replace")) if answer.sent else ""
    if not wanted or wanted not in sent:
        return True
    start = text.find(wanted)
    while start != -1:
        if not _copied_from(sent, text, start, start + len(wanted)):
            return True
        start = text.find(wanted, start + 1)
    return False


def _copied_from(sent: str, text: str, left: int, right: int) -> bool:
    """Whether ``text[left:right]``, grown by ECHO_CONTEXT characters, is still in ``sent``."""
    grown = 0
    while grown < ECHO_CONTEXT and right < len(text) and text[left : right + 1] in sent:
        right, grown = right + 1, grown + 1
    while grown < ECHO_CONTEXT and left > 0 and text[left - 1 : right] in sent:
        left, grown = left - 1, grown + 1
    return grown >= ECHO_CONTEXT


def _words(text: str) -> str:
    return _NOT_A_WORD_CHARACTER.sub("", text.casefold())
