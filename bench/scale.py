"""P6: finding due work among 1,000,000 attempt rows costs what it costs on an empty table.

The same holds for a Prometheus scrape (``GET /metrics``'s collector); the admin's overview,
which reads the last 24 hours of the log, is measured beside them for information.

Both states hold the same 16 due attempts (so the claim does the same work: find, lock,
update, fetch them); the loaded state adds the history of a busy store: 100,000 scheduled
retries spread over the next hour and 900,000 finished attempts of 100,000 events. The rows
are generated inside the database (``generate_series`` on PostgreSQL, a recursive CTE on
SQLite), then ``ANALYZE``d as a running database would be.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from bench.figures import Figure, Sizes
from bench.harness import reset_tables, subscribe

DUE = 16
WEBHOOKS = 10


def _measure(action: Callable[[], object], repeat: int, budget: float = 2.0) -> float:
    """Median of ``repeat`` calls, or of as many as fit in ``budget`` seconds (at least 5)."""
    durations: list[float] = []
    until = time.perf_counter() + budget
    while len(durations) < repeat and (len(durations) < 5 or time.perf_counter() < until):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


#: One delivery run's view, kept between claims as the engine keeps it.
_SHARE: list = []


def _claim() -> None:
    from django_webhooks.worker import claims

    if not _SHARE:
        _SHARE.append(claims.RunShare(threads=128))
    with transaction.atomic():
        attempts, _more = claims.claim(DUE, _SHARE[0])
        assert len(attempts) == DUE, len(attempts)
        transaction.set_rollback(True)  # the same 16 are due next time


def _ticker_queries() -> None:
    from django_webhooks.worker import tasks

    now = timezone.now()
    tasks.newest_due(now=now)
    tasks.newest_undispatched()
    tasks.next_due(now=now)
    tasks.pause_ends(now=now)


def _sweep() -> None:
    from django_webhooks.worker import tasks

    tasks.sweep()


def _scrape() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from django_webhooks.metrics.collector import WebhooksCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(WebhooksCollector())
    assert b"django_webhooks_attempts_total" in generate_latest(registry)


def _overview() -> None:
    from django_webhooks.observability.overview import overview

    overview("default")


#: The tally at its largest: every event type, verdict, bucket and shard has a row.
TALLY_TYPES = 10


def _fill_tally() -> int:
    from django_webhooks.models import AttemptTally
    from django_webhooks.observability import tally

    rows = [
        AttemptTally(
            event_type=f"type.{n}",
            verdict=verdict,
            le_ms=le_ms,
            shard=shard,
            count=1000,
            duration_ms_sum=50_000,
        )
        for n in range(TALLY_TYPES)
        for verdict in ("succeeded", "failed", "deactivate", "unsubscribe")
        for le_ms in (*tally.BUCKETS_MS, tally.INF_MS)
        for shard in range(tally.SHARDS)
    ]
    AttemptTally.objects.bulk_create(rows)
    return len(rows)


def _seed() -> int:
    """Webhooks, one event, the due attempts; returns the first webhook id."""
    from django_webhooks.models import Event

    reset_tables()
    webhooks = subscribe([f"http://127.0.0.1:9/hook/{n}" for n in range(WEBHOOKS)], ["x"])
    ids = sorted(webhook.pk for webhook in webhooks)
    assert ids == list(range(ids[0], ids[0] + WEBHOOKS)), ids
    Event.objects.create(
        id="evt_due", type="order.created", data={"object": {}}, dispatched_at=timezone.now()
    )
    _add_due(ids[0])
    _fill_tally()  # its size does not depend on the attempts: the same in both states
    return ids[0]


def _add_due(first_webhook: int) -> None:
    """The due attempts, (re)written last, as the newest rows of a live table are."""
    from django_webhooks.models import DeliveryAttempt, Pacing

    # Webhooks the engine has learned to send to at its ceiling (a busy store's steady state).
    Pacing.objects.bulk_create(
        [Pacing(webhook_id=first_webhook + n) for n in range(WEBHOOKS)], ignore_conflicts=True
    )
    Pacing.objects.filter(webhook_id__in=[first_webhook + n for n in range(WEBHOOKS)]).update(
        limit=64.0, paused_until=None
    )
    DeliveryAttempt.objects.filter(event_id="evt_due").delete()
    now = timezone.now()
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            webhook_id=first_webhook + n % WEBHOOKS,
            event_id="evt_due",
            url="http://127.0.0.1:9/due",
            event_type="order.created",
            number=1,
            scheduled_for=now - timedelta(seconds=1),
        )
        for n in range(DUE)
    )


def _bulk_load(rows: int, scheduled: int, first_webhook: int) -> float:
    from django_webhooks.models import DeliveryAttempt, Event

    events = rows // 10
    event_table, attempt_table = Event._meta.db_table, DeliveryAttempt._meta.db_table
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""INSERT INTO {event_table}
                (id, type, created_at, object_model, object_pk, data, dispatched_at)
                SELECT 'evt_bench_' || lpad(i::text, 9, '0'), 'order.created',
                       now() - interval '2 days' + i * interval '1 second', 'shop.order',
                       i::text, '{{"object": {{}}}}'::jsonb,
                       now() - interval '2 days' + i * interval '1 second'
                FROM generate_series(1, %s) AS i""",
                [events],
            )
            cursor.execute(
                f"""INSERT INTO {attempt_table}
                (webhook_id, event_id, url, event_type, number, trigger, status, scheduled_for,
                 started_at, finished_at, claims, claimed_by, response_status,
                 response_excerpt, duration_ms, error, answered_privately, created_at, object_key)
                SELECT %s + i %% {WEBHOOKS}, 'evt_bench_' || lpad((1 + i / 10)::text, 9, '0'),
                       'http://127.0.0.1:9/history', 'order.created',
                       CASE WHEN i < %s THEN 2 ELSE 1 END,
                       CASE WHEN i < %s THEN 'retry' ELSE 'event' END,
                       CASE WHEN i < %s THEN 'scheduled' ELSE 'succeeded' END,
                       CASE WHEN i < %s THEN now() + (60 + i %% 3600) * interval '1 second'
                            ELSE now() - interval '2 days' + i * interval '100 ms' END,
                       CASE WHEN i < %s THEN NULL ELSE now() - interval '2 days' END,
                       CASE WHEN i < %s THEN NULL ELSE now() - interval '2 days' END,
                       CASE WHEN i < %s THEN 0 ELSE 1 END, '',
                       CASE WHEN i < %s THEN NULL ELSE 200 END, 'ok', 12, '', FALSE,
                       now() - interval '2 days' + i * interval '100 ms', ''
                FROM generate_series(0, %s) AS i""",
                [first_webhook, *[scheduled] * 8, rows - 1],
            )
            cursor.execute(f"ANALYZE {event_table}, {attempt_table}")
        else:
            # Django's SQLite cursor turns %s into ? and %% into %.
            stamp = "strftime('%%Y-%%m-%%d %%H:%%M:%%S', 'now', {}) || '.000000'"
            created = stamp.format("'-2 days', '+' || (i / 10) || ' seconds'")
            cursor.execute(
                f"""INSERT INTO {event_table}
                (id, type, created_at, object_model, object_pk, data, dispatched_at)
                WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %s)
                SELECT 'evt_bench_' || substr('000000000' || i, -9), 'order.created',
                       {stamp.format("'-2 days', '+' || i || ' seconds'")}, 'shop.order', i,
                       '{{"object": {{}}}}',
                       {stamp.format("'-2 days', '+' || i || ' seconds'")}
                FROM seq""",
                [events],
            )
            cursor.execute(
                f"""INSERT INTO {attempt_table}
                (webhook_id, event_id, url, event_type, number, trigger, status, scheduled_for,
                 started_at, finished_at, claims, claimed_by, response_status,
                 response_excerpt, duration_ms, error, answered_privately, created_at, object_key)
                WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < %s)
                SELECT %s + i %% {WEBHOOKS},
                       'evt_bench_' || substr('000000000' || (1 + i / 10), -9),
                       'http://127.0.0.1:9/history', 'order.created',
                       CASE WHEN i < %s THEN 2 ELSE 1 END,
                       CASE WHEN i < %s THEN 'retry' ELSE 'event' END,
                       CASE WHEN i < %s THEN 'scheduled' ELSE 'succeeded' END,
                       CASE WHEN i < %s
                            THEN {stamp.format("'+' || (60 + i %% 3600) || ' seconds'")}
                            ELSE {created} END,
                       CASE WHEN i < %s THEN NULL ELSE {stamp.format("'-2 days'")} END,
                       CASE WHEN i < %s THEN NULL ELSE {stamp.format("'-2 days'")} END,
                       CASE WHEN i < %s THEN 0 ELSE 1 END, '',
                       CASE WHEN i < %s THEN NULL ELSE 200 END, 'ok', 12, '', 0,
                       {created}, ''
                FROM seq""",
                [rows - 1, first_webhook, *[scheduled] * 8],
            )
            cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _statements(steps: dict[str, Callable[[], object]]) -> list[tuple[str, str]]:
    """The SQL each step really runs (captured), without the transaction statements."""
    from django.test.utils import CaptureQueriesContext

    found: list[tuple[str, str]] = []
    for name, step in steps.items():
        with CaptureQueriesContext(connection) as captured:
            step()
        for query in captured.captured_queries:
            sql = query["sql"]
            if sql.split(" ", 1)[0].upper() in TRANSACTION_STATEMENTS:
                continue
            if sql not in (known for _, known in found):
                found.append((name, sql))
    return found


TRANSACTION_STATEMENTS = {"BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT"}


def _plan_and_time(sql: str, repeat: int = 20) -> tuple[str, float]:
    """The plan (EXPLAIN / EXPLAIN QUERY PLAN) and the median time of one captured statement,
    run inside a transaction that is rolled back."""
    explain = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(explain + sql)  # no params: a % in the SQL stays as it is
        rows = cursor.fetchall()
        durations = []
        for _ in range(repeat):
            started = time.perf_counter()
            cursor.execute(sql)
            if cursor.description:
                cursor.fetchall()
            durations.append(time.perf_counter() - started)
        transaction.set_rollback(True)
    if connection.vendor == "postgresql":
        plan = "\n".join(row[0] for row in rows)
    else:
        plan = "\n".join(str(row[-1]) for row in rows)
    return plan, statistics.median(durations)


#: Indexes over only the rows they serve (scheduled, sending, undispatched): scanning them
#: whole reads only those rows.
#: Indexes that hold only the rows they are about (due, being sent, undispatched, ordered).
PARTIAL_INDEXES = (
    "attempt_due_idx",
    "attempt_lease_idx",
    "attempt_in_flight_idx",
    "attempt_ordered_idx",
    "event_undispatched_idx",
)


def _full_scans(plan: str) -> list[str]:
    """Plan nodes that read a whole table or a whole index over every row."""
    tables = ("django_webhooks_deliveryattempt", "django_webhooks_event")
    found = []
    if connection.vendor == "postgresql":
        nodes: list[list[str]] = []
        for line in plan.splitlines():
            if "->" in line or not nodes:
                nodes.append([line.strip().removeprefix("-> ").strip()])
            else:
                nodes[-1].append(line.strip())
        for head, *rest in nodes:
            if not any(table in head for table in tables):
                continue
            if "Seq Scan" in head or (
                "Index" in head
                and not any(index in head for index in PARTIAL_INDEXES)
                and not any(line.startswith("Index Cond") for line in rest)
            ):
                found.append(head.split("  (")[0])
        return found
    for line in plan.splitlines():
        if any(f"SCAN {table}" in line for table in tables) and not any(
            index in line for index in PARTIAL_INDEXES
        ):
            found.append(line.strip())
    return found


def p6_scale(sizes: Sizes) -> list[Figure]:
    from django_webhooks import wakeup

    repeat = 200
    steps = {
        "claim 16 due": _claim,
        "ticker queries": _ticker_queries,
        "sweep": _sweep,
        "metrics scrape": _scrape,
        "admin overview": _overview,
    }
    informative = {"admin overview"}
    original_wake = wakeup.wake
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A table this size is scanned "synchronised": each sequential scan starts where
            # the last one stopped, i.e. at the due row it found, which hides the cost of a
            # scan from the second call on. A live table's due rows move; measure the scan.
            cursor.execute("SET synchronize_seqscans TO off")
    wakeup.wake = lambda using="default": False  # measure the queries, not the broker
    try:
        first_webhook = _seed()
        empty = {
            name: statistics.median(_measure(step, repeat) for _ in range(sizes.runs))
            for name, step in steps.items()
        }
        rows, scheduled = sizes.p6_rows, sizes.p6_rows // 10
        load_seconds = _bulk_load(rows, scheduled, first_webhook)
        _add_due(first_webhook)  # physically after the history, where a scan finds them last
        loaded = {
            name: statistics.median(_measure(step, repeat) for _ in range(sizes.runs))
            for name, step in steps.items()
        }
        plans = [(step, sql, *_plan_and_time(sql)) for step, sql in _statements(steps)]
    finally:
        wakeup.wake = original_wake
        reset_tables()
    figures = []
    for name in steps:
        ratio = loaded[name] / empty[name]
        figures.append(
            Figure(
                f"P6 scale, {name}",
                f"{ratio:.2f}x empty ({loaded[name] * 1e3:.3f} vs {empty[name] * 1e3:.3f} ms)",
                "information: reads the last 24 h of the log" if name in informative else "<= 2x",
                None if name in informative else ratio <= 2,
            )
        )
    scans = [f"{step}: {line}" for step, _, plan, _ in plans for line in _full_scans(plan)]
    details = [
        f"{rows:,} attempt rows ({scheduled:,} scheduled in the next hour, the rest finished) "
        f"and {rows // 10:,} events, loaded in {load_seconds:.1f} s; {DUE} due attempts in "
        f"both states; the tally at its largest ({TALLY_TYPES} event types, every verdict, "
        f"bucket and shard) in both states; median of {repeat} calls (or of those that fit "
        f"in 2 s), "
        f"median of {sizes.runs} runs",
        f"each statement the claim, the ticker, the sweep, the scrape and the overview ran, "
        f"with its "
        f"{'EXPLAIN' if connection.vendor == 'postgresql' else 'EXPLAIN QUERY PLAN'} "
        f"and its median time at {rows:,} rows:",
    ]
    for step, sql, plan, seconds in plans:
        details.append(f"  [{step}] {seconds * 1e3:.3f} ms  {_shorten(sql)}")
        details += [f"      {line}" for line in plan.splitlines()]
    figures.append(
        Figure(
            "P6 scale, plans use indexes",
            "no full scan" if not scans else "; ".join(scans),
            "index scans only",
            not scans,
            details,
        )
    )
    return figures


def _shorten(sql: str, width: int = 160) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 1] + "…"
