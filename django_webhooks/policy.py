"""The store's delivery policy (README: "The delivery promise"): an answer in, a verdict out.

Judged in this order, first match wins:

=====================================================  ===============
the answer's body contains UNSUBSCRIBE_PHRASE (any case)  UNSUBSCRIBE: delete the webhook
the status is in DEACTIVATE_STATUS_CODES                  DEACTIVATE: is_active = False
the status is in SUCCESS_STATUS_CODES, answer complete    SUCCEEDED
anything else (other status, timeout, error, redirect)    FAILED: retry RETRY_DELAYS[n-1] s
                                                          after this attempt ended, until
                                                          MAX_ATTEMPTS (len + 1) are spent
=====================================================  ===============

The phrase is looked for in what is read of the answer: its first 64 KiB (transport).
A redelivery asked for by hand (admin, API, ``webhooks_recover``) is one try, not retried.
"""

from __future__ import annotations

import enum
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


def judge(answer: Answer) -> Verdict:
    phrase = webhook_settings.UNSUBSCRIBE_PHRASE.casefold()
    if answer.status is not None and phrase and phrase in _text(answer.body):
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


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace").casefold()
