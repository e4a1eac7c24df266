"""The delivery engine's calls into observability: one per step, so the engine stays its own.

- :func:`outcomes_written`, in the transaction that writes a batch of outcomes: the tally
  (counted in that transaction), then, once it committed, the log records and the ends of
  the attempts' spans.
- :func:`request_headers`, when an attempt's request is prepared: its span starts and the
  ``traceparent`` header to send, if any.
- :func:`dispatched`, after an event was fanned out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from . import logs, tally, tracing


def outcomes_written(judged: Sequence[tuple[Any, Any]], using: str) -> None:
    """``judged``: (attempt with its outcome set, policy.Verdict) pairs of this transaction."""
    if not judged:
        return
    tally.count(
        (
            tally.Counted(attempt.event_type, verdict.value, attempt.duration_ms)
            for attempt, verdict in judged
        ),
        using,
    )
    transaction.on_commit(lambda: _after_commit(judged), using=using, robust=True)


def _after_commit(judged: Sequence[tuple[Any, Any]]) -> None:
    for attempt, verdict in judged:
        logs.outcome(attempt, verdict.value)
        tracing.end_attempt(
            attempt.pk,
            status=attempt.status,
            verdict=verdict.value,
            response_status=attempt.response_status,
            duration_ms=attempt.duration_ms or 0,
        )


def request_headers(attempt: Any, url: str) -> dict[str, str]:
    traceparent = tracing.start_attempt(attempt, url)
    return {"traceparent": traceparent} if traceparent else {}


def dispatched(events: Sequence[Any], attempts: Sequence[Any]) -> None:
    if tracing.enabled():
        tracing.dispatched(events, Counter(attempt.event_id for attempt in attempts))
