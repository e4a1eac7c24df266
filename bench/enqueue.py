"""P1 of issue 6: an order save's cost with webhooks subscribed, against none."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from bench.figures import ORDER_EVENTS, Figure, Sizes, median
from bench.harness import reset_tables, subscribe

P1_MIN_RUNS = 9


@contextlib.contextmanager
def untracked() -> Iterator[None]:
    """The store with the app installed but no model tracked: WEBHOOKS names no order model.

    Settings are read at use and the app follows ``override_settings`` (README, "Settings").
    """
    with override_settings(WEBHOOKS={}):
        yield


@contextlib.contextmanager
def wake_debounce(seconds: float) -> Iterator[None]:
    """Commits wake the queue at most once per ``seconds`` (``timing.WAKE_DEBOUNCE_SECONDS``)."""
    from django_webhooks import timing

    kept = timing.WAKE_DEBOUNCE_SECONDS
    timing.WAKE_DEBOUNCE_SECONDS = seconds
    try:
        yield
    finally:
        timing.WAKE_DEBOUNCE_SECONDS = kept


def p1_enqueue(sizes: Sizes) -> list[Figure]:
    from django_webhooks import timing
    from example_project.shop.models import Order

    def one_save(order: Order) -> None:
        with transaction.atomic():
            order.status = "paid" if order.status != "paid" else "pending"
            order.save()

    def configure(subscribers: int | None) -> Order:
        reset_tables()
        if subscribers:
            subscribe([f"http://127.0.0.1:9/hook/{n}" for n in range(subscribers)], ORDER_EVENTS)
        order = Order.objects.create()
        for _ in range(20):  # warm the caches (SQL strings, statement cache)
            one_save(order)
        return order

    def timed(order: Order) -> float:
        durations = []
        for _ in range(sizes.p1_saves):
            started = time.perf_counter()
            one_save(order)
            durations.append(time.perf_counter() - started)
        return median(durations)

    def queries(order: Order) -> list[str]:
        # Count the save, not the wake-up that at most one save per debounce period makes.
        with wake_debounce(math.inf), CaptureQueriesContext(connection) as captured:
            one_save(order)
        return [query["sql"] for query in captured.captured_queries]

    configs: list[tuple[str, int | None]] = [
        ("disconnected", None),
        ("0 subscribers", 0),
        ("1 subscriber", 1),
        ("10 subscribers", 10),
        ("100 subscribers", 100),
    ]
    per_run: dict[str, list[float]] = {label: [] for label, _ in configs}
    pair_ratios: dict[str, list[float]] = {label: [] for label, _ in configs}
    counts: dict[str, int] = {}
    wake_queries = 0
    # Short blocks, many runs, and each configuration timed right after a baseline block of
    # its own: this machine's shared cores change pace from one second to the next, and a
    # ratio of two neighbouring blocks is what such a change moves least.
    for _run in range(max(sizes.runs, P1_MIN_RUNS)):
        for label, subscribers in configs:
            if subscribers:
                base_block = timed(configure(0))
                per_run["0 subscribers"].append(base_block)
            with untracked() if subscribers is None else contextlib.nullcontext():
                order = configure(subscribers)
                per_run[label].append(timed(order))
                counts[label] = len(queries(order))
            if subscribers:
                pair_ratios[label].append(per_run[label][-1] / base_block)
                with wake_debounce(0), CaptureQueriesContext(connection) as captured:
                    one_save(order)
                wake_queries = len(captured.captured_queries) - counts[label]
    reset_tables()

    typical = {label: median(values) for label, values in per_run.items()}
    bare = typical["disconnected"]
    details = [
        f"{label:>16}: median save {typical[label] * 1e3:7.3f} ms "
        f"(runs: {', '.join(f'{v * 1e3:.3f}' for v in per_run[label])} ms), "
        f"{counts[label]} queries"
        for label, _ in configs
    ]
    details.append(
        f"a save that wakes the queue (at most one per {timing.WAKE_DEBOUNCE_SECONDS:g} s per "
        f"process) adds {wake_queries} quer{'y' if wake_queries == 1 else 'ies'} to the store DB"
    )
    figures = []
    for label in ("1 subscriber", "10 subscribers", "100 subscribers"):
        ratio = median(pair_ratios[label])
        figures.append(
            Figure(
                f"P1 enqueue, {label}",
                f"{ratio:.2f}x no subscribers (median of {len(pair_ratios[label])} paired "
                f"runs: {', '.join(f'{r:.2f}' for r in pair_ratios[label])})"
                f"; {counts[label] - counts['0 subscribers']:+d} queries",
                "<= 1.5x, constant queries",
                ratio <= 1.5 and counts[label] == counts["1 subscriber"],
            )
        )
    figures.append(
        Figure(
            "P1 info: 100 subscribers vs app disconnected",
            f"{typical['100 subscribers'] / bare:.2f}x ({bare * 1e3:.3f} ms, "
            f"{counts['disconnected']} queries)",
            "information",
            None,
            details,
        )
    )
    return figures


def line_count(order: object) -> int:
    """A status computed from related rows, as a store's "fulfilment" might be."""
    from example_project.shop.models import OrderItem

    return OrderItem.objects.filter(order=order).count()


#: The example's order as a source whose fulfilment status is computed from its lines.
RELATED_SOURCES = {
    "order": {
        "model": "shop.Order",
        "status_fields": {
            "fulfillment_status": {
                "type": "order.fulfillment_status_changed",
                "value": "bench.enqueue.line_count",
            },
        },
        "related": {"shop.OrderItem": "order"},
    }
}


def _kind(sql: str) -> str:
    if "django_webhooks_webhook" in sql:
        return "listening?"
    if "django_webhooks_event" in sql or "django_webhooks_objectsequence" in sql:
        return "event"
    if 'FROM "shop_order"' in sql or "FROM `shop_order`" in sql:
        return "source read"
    if "COUNT(" in sql:
        return "status's own"
    return "the write"


def p1_related_rows(sizes: Sizes) -> list[Figure]:
    """What a save of a related row (an order line) costs in queries (issue 13's bound)."""
    from collections import Counter

    from example_project.shop.models import Order, OrderItem

    def write_lines(order: Order, count: int) -> list[Counter[str]]:
        """The queries of each of ``count`` line writes in one transaction, by kind."""
        costs = []
        with wake_debounce(math.inf), transaction.atomic():
            for n in range(count):
                with CaptureQueriesContext(connection) as captured:
                    OrderItem.objects.create(order=order, sku=f"sku-{n}", name="line")
                costs.append(Counter(_kind(query["sql"]) for query in captured.captured_queries))
        return costs

    def measure(sources: dict | None, subscribed: bool) -> list[Counter[str]]:
        with override_settings(WEBHOOKS={} if sources is None else {"SOURCES": sources}):
            reset_tables()
            if subscribed:
                subscribe(["http://127.0.0.1:9/hook/0"], ["order.fulfillment_status_changed"])
            write_lines(Order.objects.create(), 3)  # warm the caches
            return write_lines(Order.objects.create(), 3)

    def spelled(costs: Counter[str]) -> str:
        return ", ".join(f"{kind} {count}" for kind, count in sorted(costs.items()))

    untracked_costs = measure(None, subscribed=False)
    nobody = measure(RELATED_SOURCES, subscribed=False)
    listening = measure(RELATED_SOURCES, subscribed=True)
    reset_tables()
    base = sum(untracked_costs[0].values())
    ours_first = listening[0]["listening?"] + listening[0]["source read"]
    ours_later = listening[1]["listening?"] + listening[1]["source read"]
    return [
        Figure(
            "P1 related row saved, nobody listening",
            f"{sum(nobody[0].values()) - base:+d} queries per line write",
            "<= +1 (issue 13)",
            sum(nobody[0].values()) - base <= 1,
            [f"queries per write, app untracked: {base}; tracked: {spelled(nobody[0])}"],
        ),
        Figure(
            "P1 related row saved, a webhook listening",
            f"+{listening[0]['source read']} source read per source instance and transaction; "
            f"ours per write: first {ours_first:+d}, later {ours_later:+d} "
            "(besides the status's own queries and the event when it changes)",
            "<= +1 per source instance (issue 13) beyond the listening check",
            listening[0]["source read"] <= 1 and listening[1]["source read"] == 0,
            [
                f"first write in the transaction: {spelled(listening[0])}",
                f"later writes: {spelled(listening[1])}; {spelled(listening[2])}",
                "the status's own: the store's function, before the first write and after each",
            ],
        ),
    ]
