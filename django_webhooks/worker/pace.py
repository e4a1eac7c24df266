"""Each batch of answers moves its webhooks' learned pace (:func:`pacing.learn`).

Written in the outcomes' transaction, and only when the answers move something: a webhook
at its ceiling answering well (the common case) costs no query at all.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from .. import pacing
from ..models import DeliveryAttempt
from ..pacing import Pacing
from ..policy import Verdict
from ..rows import update_rows
from .sending import Sent

_FIELDS = [
    "limit",
    "threshold",
    "refused_at_limit",
    "decreased_at",
    "latency_floor_ms",
    "paused_until",
]
#: A latency floor that moved less than this share is not worth a write on its own.
FLOOR_TOLERANCE = 0.25


def learn_pace(
    sent: list[Sent],
    judged: list[tuple[DeliveryAttempt, Verdict]],
    using: str,
    known: dict[int, Pacing],
    switched_off: Iterable[int] = (),
) -> None:
    """Move the pace of the webhooks that answered (in the caller's transaction)."""
    left_out = set(switched_off)
    answers: dict[int, list[pacing.Answer]] = defaultdict(list)
    for item, (attempt, verdict) in zip(sent, judged, strict=True):
        if attempt.webhook_id is None or attempt.webhook_id in left_out:
            continue
        result = item.result
        answers[attempt.webhook_id].append(
            pacing.Answer(
                status=result.status,
                succeeded=verdict is Verdict.SUCCEEDED,
                duration_ms=result.duration_ms,
                sent_at=item.finished_at - timedelta(milliseconds=result.duration_ms),
                answered_at=item.finished_at,
                retry_after=result.retry_after,
            )
        )
    moved = [
        webhook_id
        for webhook_id, theirs in answers.items()
        if webhook_id not in known or _moves(known[webhook_id], theirs)
    ]
    if not moved:
        return
    # Locked, so that two workers' answers to one webhook both count.
    rows = list(Pacing.objects.using(using).select_for_update().filter(pk__in=moved).order_by("pk"))
    for row in rows:
        pacing.learn(row, answers[row.pk])
        known[row.pk] = row
    # A webhook without a row (reset, or deleted meanwhile) starts afresh at its next claim.
    update_rows(Pacing, rows, _FIELDS, using)


def _moves(state: Pacing, answers: list[pacing.Answer]) -> bool:
    after = copy.copy(state)
    pacing.learn(after, answers)
    if any(
        getattr(after, name) != getattr(state, name)
        for name in _FIELDS
        if name != "latency_floor_ms"
    ):
        return True
    before, now = state.latency_floor_ms, after.latency_floor_ms
    if before is None or now is None:
        return before != now
    return abs(now - before) > before * FLOOR_TOLERANCE
