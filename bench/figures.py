"""P2-P5 and P7 of issue 6, each against a baseline measured in the same run.

P1 is in enqueue.py, P6 in scale.py, P8-P11 (issue 15) in engine.py.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass, field

import psutil
import requests
from django.db import transaction

from bench.harness import (
    ReceiverProcess,
    cluster_processes,
    reset_tables,
    subscribe,
)
from tests.cluster import wait_until

ORDER_EVENTS = [
    "order.created",
    "order.updated",
    "order.status_changed",
    "order.payment_status_changed",
    "order.fulfillment_status_changed",
    "order.deleted",
]


@dataclass
class Figure:
    name: str
    measured: str
    target: str
    passed: bool | None  # None: for information
    details: list[str] = field(default_factory=list)
    seconds: float | None = None  # how long the figure took (run.py sets it)


@dataclass
class Sizes:
    runs: int
    p1_saves: int
    p2_orders: int
    p3_orders: int
    p3_baseline_posts: int
    p4_orders: int
    p5_commits: int
    p6_rows: int
    p7_deliveries: int
    # issue 15 (engine.py)
    p8_events: int
    p8_baseline_posts: int
    p9_events: int
    p10_seconds: float  # of commits at P10_RATE, the outage in the middle
    p11_events: int  # B's, one every P11_INTERVAL
    p8_many_orders: int  # x 8 webhooks

    @classmethod
    def full(cls, runs: int = 3) -> Sizes:
        return cls(runs, 150, 1000, 300, 100, 500, 40, 1_000_000, 50_000, 3000, 10, 300, 8, 30, 600)

    @classmethod
    def quick(cls, runs: int = 3) -> Sizes:
        return cls(runs, 50, 100, 50, 40, 100, 15, 100_000, 5_000, 600, 5, 300, 6, 20, 200)


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


# --- throughput (P2, P3) ------------------------------------------------------------------------


def deliver_orders(
    receiver: ReceiverProcess,
    orders: int,
    paths: list[str],
    count_prefix: str,
    expected: int,
    timeout: float,
) -> tuple[float, float]:
    """Commit ``orders`` new orders at once; seconds from commit to the last expected arrival,
    and to the last outcome recorded."""
    from django_webhooks.models import DeliveryAttempt
    from example_project.shop.models import Order

    reset_tables()
    receiver.reset()
    subscribe([receiver.url(path) for path in paths], ["order.created"])
    with transaction.atomic():
        for _ in range(orders):
            Order.objects.create()
    committed = time.time()
    arrived = receiver.wait(count_prefix, expected, timeout)["last"] - committed
    total = orders * len(paths)

    def all_recorded() -> bool:
        return (
            not DeliveryAttempt.objects.filter(status__in=["scheduled", "sending"])
            .exclude(url__contains="/never/")
            .exists()
            and DeliveryAttempt.objects.count() >= total
        )

    wait_until(all_recorded, timeout, message="outcomes not all recorded")
    return arrived, time.time() - committed


def sequential_loop(receiver: ReceiverProcess, bodies: list[tuple[str, bytes]]) -> float:
    """The baseline: one process, one requests.Session, one POST after the other; per second."""
    session = requests.Session()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    session.post(bodies[0][0], data=bodies[0][1], headers=headers, timeout=5)
    started = time.perf_counter()
    for url, body in bodies:
        response = session.post(url, data=body, headers=headers, timeout=5)
        response.raise_for_status()
    return len(bodies) / (time.perf_counter() - started)


def event_bodies(
    paths: list[str], receiver: ReceiverProcess, limit: int
) -> list[tuple[str, bytes]]:
    from django_webhooks.models import Event
    from django_webhooks.payloads import render_event

    bodies = []
    for event in Event.objects.order_by("created_at")[: max(limit // len(paths), 1)]:
        body = render_event(event, "json")
        bodies += [(receiver.url(path), body) for path in paths]
    return bodies[:limit]


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def throughput(
    receiver: ReceiverProcess,
    cluster,
    sizes: Sizes,
    *,
    name: str,
    prefix: str,
    orders: int,
    baseline_posts: int,
    target: float,
) -> Figure:
    paths = [f"{prefix}/{n}" for n in range(10)]
    expected = orders * len(paths)
    engine, loop, recorded, receiver_cpu, engine_cpu, loop_cpu = [], [], [], [], [], []
    workers = cluster_processes(cluster)
    me = psutil.Process()
    for _run in range(sizes.runs):
        cpu_before, cluster_before = receiver.cpu_seconds(), _cpu_seconds(workers)
        arrived, done = deliver_orders(receiver, orders, paths, prefix, expected, 600)
        receiver_cpu.append((receiver.cpu_seconds() - cpu_before) / arrived)
        engine_cpu.append((_cpu_seconds(workers) - cluster_before) / expected)
        engine.append(expected / arrived)
        recorded.append(done)
        bodies = event_bodies(paths, receiver, baseline_posts)
        cpu_before = _cpu_seconds([me])
        loop.append(sequential_loop(receiver, bodies))
        loop_cpu.append((_cpu_seconds([me]) - cpu_before) / len(bodies))
    ratio = median(engine) / median(loop)
    return Figure(
        name,
        f"{ratio:.2f}x the loop ({median(engine):.0f}/s vs {median(loop):.0f}/s)",
        f">= {target:g}x",
        ratio >= target,
        [
            f"{orders} orders x 10 webhooks = {expected} deliveries per run; engine "
            f"{', '.join(f'{v:.0f}' for v in engine)}/s (commit to last arrival), "
            f"all outcomes recorded after {', '.join(f'{v:.1f}' for v in recorded)} s",
            f"baseline: sequential requests.Session loop, {baseline_posts} POSTs of the same "
            f"bodies: {', '.join(f'{v:.0f}' for v in loop)}/s",
            f"CPU per delivery: engine {median(engine_cpu) * 1e3:.2f} ms (all qcluster "
            f"processes; database server not counted), loop {median(loop_cpu) * 1e3:.2f} ms",
            f"receiver CPU while the engine ran: {median(receiver_cpu) * 100:.0f}% of one core",
        ],
    )


# --- P4 isolation -------------------------------------------------------------------------------


def p4_isolation(receiver: ReceiverProcess, sizes: Sizes) -> Figure:
    from django_webhooks.models import DeliveryAttempt, Webhook

    healthy_paths = [f"/fast/{n}" for n in range(9)]
    orders = sizes.p4_orders
    expected = orders * len(healthy_paths)
    healthy, degraded = [], []
    for _run in range(sizes.runs):
        arrived, _ = deliver_orders(
            receiver, orders, [*healthy_paths, "/other/9"], "/fast", expected, 600
        )
        healthy.append(arrived)
        arrived, _ = deliver_orders(
            receiver, orders, [*healthy_paths, "/never/9"], "/fast", expected, 600
        )
        degraded.append(arrived)
        # Stop the dead webhook's remaining attempts; the ones in flight end at TIMEOUT.
        Webhook.objects.filter(url__contains="/never/").update(is_active=False)
        DeliveryAttempt.objects.filter(status="scheduled").update(status="cancelled")
        wait_until(
            lambda: not DeliveryAttempt.objects.filter(status="sending").exists(),
            60,
            message="attempts to the dead receiver still in flight",
        )
    ratio = median(degraded) / median(healthy)
    return Figure(
        "P4 isolation, 1 of 10 webhooks never answers",
        f"{ratio:.2f}x all-healthy ({median(degraded):.2f} vs {median(healthy):.2f} s)",
        "<= 1.3x",
        ratio <= 1.3,
        [
            f"{orders} orders x 10 webhooks, TIMEOUT 5 s (default); time from commit until the "
            f"{expected} deliveries to the 9 healthy webhooks arrived",
            f"all healthy: {', '.join(f'{v:.2f}' for v in healthy)} s; "
            f"with the dead one: {', '.join(f'{v:.2f}' for v in degraded)} s",
        ],
    )


# --- P5 first attempt latency -------------------------------------------------------------------


def p5_latency(receiver: ReceiverProcess, sizes: Sizes) -> list[Figure]:
    from django_webhooks import timing
    from django_webhooks.models import DeliveryAttempt
    from example_project.shop.models import Order

    statuses = [Order.Status.PAID, Order.Status.PENDING]
    p50s, p99s, round_trips = [], [], []
    all_latencies: list[float] = []
    for _run in range(sizes.runs):
        reset_tables()
        receiver.reset()
        order = Order.objects.create()
        subscribe([receiver.url("/p5/0")], ["order.status_changed"])
        latencies = []
        last_commit = 0.0
        for index in range(sizes.p5_commits):
            # Pace commits past the wake-up debounce: each one meets an idle cluster.
            pause = timing.WAKE_DEBOUNCE_SECONDS + 0.1 - (time.monotonic() - last_commit)
            if pause > 0:
                time.sleep(pause)
            with transaction.atomic():
                order.status = statuses[index % 2]
                order.save()
            committed = time.time()
            last_commit = time.monotonic()
            arrived = receiver.wait("/p5", index + 1, 30)["last"]
            latencies.append(arrived - committed)
            wait_until(
                lambda done=index + 1: (
                    DeliveryAttempt.objects.filter(status="succeeded").count() >= done
                ),
                30,
                message="outcome not recorded",
                interval=0.01,
            )
        p50s.append(percentile(latencies, 0.5))
        p99s.append(percentile(latencies, 0.99))
        all_latencies += latencies
        session = requests.Session()
        for _ in range(sizes.p5_commits):
            started = time.perf_counter()
            session.post(receiver.url("/rtt/0"), data=b"{}", timeout=5)
            round_trips.append(time.perf_counter() - started)
    p50, p99 = median(p50s), median(p99s)
    details = [
        f"{sizes.p5_commits} status changes per run, each committed once the previous one was "
        f"recorded; commit to arrival at the receiver",
        f"p50 per run: {', '.join(f'{v * 1e3:.0f}' for v in p50s)} ms; p99 per run: "
        f"{', '.join(f'{v * 1e3:.0f}' for v in p99s)} ms; worst {max(all_latencies) * 1e3:.0f} ms",
        f"baseline: the receiver's round trip (requests.Session POST) p50 "
        f"{percentile(round_trips, 0.5) * 1e3:.2f} ms",
    ]
    return [
        Figure("P5 first attempt p50", f"{p50 * 1e3:.0f} ms", "<= 250 ms", p50 <= 0.25, details),
        Figure("P5 first attempt p99", f"{p99 * 1e3:.0f} ms", "<= 1000 ms", p99 <= 1.0),
    ]


# --- P7 memory ----------------------------------------------------------------------------------


def p7_memory(receiver: ReceiverProcess, cluster, sizes: Sizes) -> Figure:
    from django_webhooks.models import DeliveryAttempt
    from example_project.shop.models import Order

    paths = [f"/fast/{n}" for n in range(10)]
    batch_orders = 500

    def deliver(deliveries: int) -> None:
        reset_tables()
        receiver.reset()
        subscribe([receiver.url(path) for path in paths], ["order.created"])
        orders = deliveries // len(paths)
        for start in range(0, orders, batch_orders):
            with transaction.atomic():
                for _ in range(min(batch_orders, orders - start)):
                    Order.objects.create()
        receiver.wait("/fast", deliveries, 1800)
        wait_until(
            lambda: (
                not DeliveryAttempt.objects.filter(status__in=["scheduled", "sending"]).exists()
            ),
            120,
            message="outcomes not all recorded",
        )

    def workers() -> set[int]:
        claimants = DeliveryAttempt.objects.values_list("claimed_by", flat=True).distinct()
        return {int(name.rsplit(":", 1)[1]) for name in claimants if name}

    def rss() -> dict[int, int]:
        return {
            process.pid: process.memory_info().rss
            for process in cluster_processes(cluster)
            if process.is_running()
        }

    deliver(5_000)  # warm-up: imports, pools, caches, the allocator's arenas
    seen = workers()
    before = rss()
    deliver(sizes.p7_deliveries)
    seen |= workers()
    after = rss()
    measured = {pid: after[pid] - before[pid] for pid in seen if pid in before and pid in after}
    replaced = seen - set(measured)
    growth = max(measured.values(), default=0) / 2**20
    others = {pid: after[pid] - before[pid] for pid in before if pid in after and pid not in seen}
    details = [
        f"{sizes.p7_deliveries} deliveries after a 5,000-delivery warm-up (fast receiver); "
        f"RSS per worker process (pids from claimed_by):",
        *[
            f"  worker {pid}: {before[pid] / 2**20:.1f} -> {after[pid] / 2**20:.1f} MB "
            f"({growth_bytes / 2**20:+.1f} MB)"
            for pid, growth_bytes in sorted(measured.items())
        ],
        f"  other cluster processes: "
        f"{', '.join(f'{v / 2**20:+.1f} MB' for v in others.values()) or 'none'}",
    ]
    if replaced:
        details.append(f"  workers that did not live through the run: {sorted(replaced)}")
    return Figure(
        "P7 memory, worker RSS growth",
        f"{growth:+.1f} MB over {sizes.p7_deliveries} deliveries (one run)",
        "<= 20 MB",
        growth <= 20 and not replaced,
        details,
    )
