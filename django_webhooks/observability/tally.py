"""Cumulative counts of the attempts that reached a verdict, for ``GET /metrics``.

Counting the attempt table at scrape time would read every row ever kept (an aggregate over
millions, and one that drops when ``webhooks_prune`` deletes). Instead each batch of outcomes
adds its counts here in the transaction that writes the outcomes, so the counters are exact
(an outcome and its count commit or roll back together) and true for every worker on every
host, and a scrape reads this small table whatever the traffic was.

Rows: one per event type, verdict, histogram bucket and shard. A worker process writes the
rows of its own shard (its pid modulo :data:`SHARDS`), so two workers seldom wait for each
other's row locks; the scrape adds the shards up. The row count is bounded by
types x 4 verdicts x buckets x shards, whatever the number of attempts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connections, models
from django.db.models import F, Sum

from .. import events

#: Bucket upper bounds of the attempt duration histogram, in milliseconds.
BUCKETS_MS = (25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
#: The bucket above the last bound (+Inf).
INF_MS = 2**31 - 1
SHARDS = 8


class AttemptTally(models.Model):
    event_type = models.CharField(max_length=events.EVENT_TYPE_MAX_LENGTH)
    #: policy.Verdict's value: succeeded, failed, deactivate, unsubscribe.
    verdict = models.CharField(max_length=12)
    #: The histogram bucket: the smallest of BUCKETS_MS at or above the duration, or INF_MS.
    le_ms = models.PositiveIntegerField()
    shard = models.PositiveSmallIntegerField()
    count = models.PositiveBigIntegerField(default=0)
    duration_ms_sum = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "attempt tally"
        constraints = [
            models.UniqueConstraint(
                fields=["event_type", "verdict", "le_ms", "shard"], name="attempt_tally_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.verdict} <= {self.le_ms} ms: {self.count}"


@dataclass(frozen=True)
class Counted:
    """One finished attempt, as the tally sees it."""

    event_type: str
    verdict: str
    duration_ms: int | None


def bucket_of(duration_ms: int | None) -> int:
    duration = duration_ms or 0
    for bound in BUCKETS_MS:
        if duration <= bound:
            return bound
    return INF_MS


def count(outcomes: Iterable[Counted], using: str) -> None:
    """Add ``outcomes`` to the tally, in the caller's transaction."""
    counts: Counter[tuple[str, str, int]] = Counter()
    sums: Counter[tuple[str, str, int]] = Counter()
    for outcome in outcomes:
        key = (outcome.event_type, outcome.verdict, bucket_of(outcome.duration_ms))
        counts[key] += 1
        sums[key] += outcome.duration_ms or 0
    if not counts:
        return
    shard = os.getpid() % SHARDS
    # Always the same order: two batches that share rows lock them in it, and cannot deadlock.
    rows = [(*key, shard, counts[key], sums[key]) for key in sorted(counts)]
    connection = connections[using]
    if connection.vendor in ("postgresql", "sqlite"):
        with connection.cursor() as cursor:
            cursor.execute(_upsert_sql(using, len(rows)), [value for row in rows for value in row])
        return
    for event_type, verdict, le_ms, shard_, added, duration in rows:  # other databases
        tally = AttemptTally.objects.using(using)
        row = tally.filter(event_type=event_type, verdict=verdict, le_ms=le_ms, shard=shard_)
        if not row.update(
            count=F("count") + added, duration_ms_sum=F("duration_ms_sum") + duration
        ):
            tally.create(
                event_type=event_type,
                verdict=verdict,
                le_ms=le_ms,
                shard=shard_,
                count=added,
                duration_ms_sum=duration,
            )


def _upsert_sql(using: str, rows: int) -> str:
    quote = connections[using].ops.quote_name
    table = quote(AttemptTally._meta.db_table)
    key = ", ".join(quote(name) for name in ("event_type", "verdict", "le_ms", "shard"))
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * rows)
    added = ", ".join(
        f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}"
        for name in ("count", "duration_ms_sum")
    )
    return (
        f"INSERT INTO {table} ({key}, {quote('count')}, {quote('duration_ms_sum')}) "
        f"VALUES {values} ON CONFLICT ({key}) DO UPDATE SET {added}"
    )


@dataclass(frozen=True)
class Total:
    event_type: str
    verdict: str
    le_ms: int
    count: int
    duration_ms_sum: int


def totals(using: str) -> list[Total]:
    """Every (event type, verdict, bucket) with its shards added up: one query."""
    return [
        Total(row["event_type"], row["verdict"], row["le_ms"], row["n"], row["ms"])
        for row in AttemptTally.objects.using(using)
        .values("event_type", "verdict", "le_ms")
        .annotate(n=Sum("count"), ms=Sum("duration_ms_sum"))
        .order_by()
    ]
