"""Each batch of answers moves its webhooks' learned pace (:func:`pacing.learn`).

Written in the outcomes' transaction, and only when the answers move something: a webhook
at its ceiling answering well (the common case) costs no query at all.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.db import connections

from .. import pacing
from ..conf import webhook_settings
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
#: A latency floor that moved less than this share (and these milliseconds) is not worth a
#: write on its own: what it decides (LATENCY_RISE, LATENCY_SLACK_MS) is coarser.
FLOOR_TOLERANCE = 0.25
FLOOR_TOLERANCE_MS = 10.0


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
    moved: list[int] = []
    grown: list[tuple[float, int]] = []
    for webhook_id, theirs in answers.items():
        before = known.get(webhook_id)
        if before is None:
            moved.append(webhook_id)
            continue
        after = copy.copy(before)
        pacing.learn(after, theirs)
        change = _change(before, after)
        if change == "grew":
            # Only grown (all went well): one increment, no locked read, and two workers'
            # increments both count.
            grown.append((after.limit - before.limit, webhook_id))
            known[webhook_id] = after
        elif change == "moved":
            moved.append(webhook_id)
    if not moved:
        if grown:
            _grow(grown, using)
        return
    # Locked, so that two workers' answers to one webhook both count; all of the batch's rows
    # in one statement in id order, as a claim locks them (any other order can deadlock).
    growth = {webhook_id: delta for delta, webhook_id in grown}
    ceiling = float(max(webhook_settings.CONCURRENCY_PER_WEBHOOK, 1))
    rows = list(
        Pacing.objects.using(using)
        .select_for_update()
        .filter(pk__in=[*moved, *growth])
        .order_by("pk")
    )
    for row in rows:
        if row.pk in growth:
            row.limit = min(ceiling, row.limit + growth[row.pk])
        else:
            pacing.learn(row, answers[row.pk])
        known[row.pk] = row
    # A webhook without a row (reset, or deleted meanwhile) starts afresh at its next claim.
    update_rows(Pacing, rows, _FIELDS, using)


def _grow(grown: list[tuple[float, int]], using: str) -> None:
    connection = connections[using]
    quote = connection.ops.quote_name
    smaller = "MIN" if connection.vendor == "sqlite" else "LEAST"
    limit = quote("limit")
    ceiling = float(max(webhook_settings.CONCURRENCY_PER_WEBHOOK, 1))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Pacing._meta.db_table)} SET {limit} = {smaller}({limit} + %s, %s) "
            f"WHERE {quote('webhook_id')} = %s",
            [(delta, ceiling, webhook_id) for delta, webhook_id in sorted(grown, key=_by_id)],
        )


def _by_id(item: tuple[float, int]) -> int:
    return item[1]


def _change(state: Pacing, after: Pacing) -> str:
    """ "same", "grew" (only the limit, upwards) or "moved" (anything else)."""
    changed = {
        name
        for name in _FIELDS
        if name != "latency_floor_ms" and getattr(after, name) != getattr(state, name)
    }
    before, now = state.latency_floor_ms, after.latency_floor_ms
    if before is None or now is None:
        floor_moved = before != now
    else:
        floor_moved = abs(now - before) > max(before * FLOOR_TOLERANCE, FLOOR_TOLERANCE_MS)
    if floor_moved or changed - {"limit"}:
        return "moved"
    if changed:
        return "grew" if after.limit > state.limit else "moved"
    return "same"
