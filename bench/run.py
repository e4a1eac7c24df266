"""The benchmark of issues 6 and 15: a printed report of P1-P11 on each deployment.

    bench/run.py                                  # both deployments, full sizes (make bench)
    bench/run.py --deployment sqlite --quick      # one deployment, small sizes
    bench/run.py --only P1,P6 --runs 5

Each deployment runs in a child process of its own (Django reads the deployment at start-up)
against a real qcluster (manage.py qcluster with tests.settings) and a real receiver
(bench/receiver.py). PostgreSQL + Redis is skipped, with a line saying so, when unreachable.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ALL = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11"]
#: Run on the cluster with the engine's defaults; P9 and P10 on one with short RETRY_DELAYS.
DEFAULT_CLUSTER = {"P2", "P3", "P4", "P5", "P7", "P8", "P11"}
RETRY_CLUSTER = {"P9", "P10"}


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def run_deployment(args: argparse.Namespace) -> int:
    from bench import engine, enqueue, harness, scale
    from bench.figures import Figure, Sizes

    started = time.monotonic()
    load_at_start = harness.machine()
    description = harness.configure(args.deployment)
    sizes = Sizes.quick(args.runs) if args.quick else Sizes.full(args.runs)
    wanted = set(args.only.split(",")) if args.only else set(ALL)
    results: list[Figure] = []

    def progress(message: str) -> None:
        print(f"  [{time.monotonic() - started:6.0f} s] {message}", file=sys.stderr, flush=True)

    timings: list[tuple[str, float]] = []

    def step(label: str, make) -> None:
        progress(label)
        step_started = time.monotonic()
        made = make()
        made = made if isinstance(made, list) else [made]
        seconds = time.monotonic() - step_started
        made[0].seconds = seconds
        timings.append((label, seconds))
        results.extend(made)

    if "P1" in wanted:
        step("P1 enqueue", lambda: enqueue.p1_enqueue(sizes))
        step("P1 related rows", lambda: enqueue.p1_related_rows(sizes))
    if "P6" in wanted:
        step("P6 scale", lambda: scale.p6_scale(sizes))
    receiver = None
    try:
        if wanted & (DEFAULT_CLUSTER | RETRY_CLUSTER):
            receiver = harness.ReceiverProcess()
        if wanted & DEFAULT_CLUSTER:
            cluster = harness.start_cluster(workers=args.workers)
            try:
                default_cluster_figures(wanted, step, receiver, cluster, sizes, args.workers)
            finally:
                cluster.stop()
        if wanted & RETRY_CLUSTER:
            cluster = harness.start_cluster(engine.RETRY_OVERRIDES, workers=args.workers)
            try:
                if "P9" in wanted:
                    step("P9 capacity", lambda: engine.p9_capacity(receiver, sizes, args.workers))
                for retry_after in (engine.P10_RETRY_AFTER, None) if "P10" in wanted else ():
                    step(
                        f"P10 fault, {'with' if retry_after else 'without'} Retry-After",
                        lambda after=retry_after: engine.p10_fault(
                            receiver, sizes, args.workers, retry_after=after
                        ),
                    )
            finally:
                cluster.stop()
    finally:
        if receiver is not None:
            receiver.stop()

    from django_webhooks.conf import webhook_settings as conf

    lines = [
        "=" * 100,
        f"django-webhooks benchmark — deployment {args.deployment}: {description}",
        f"machine: {load_at_start} (at start); load at end "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        f"cluster: manage.py qcluster, {args.workers} workers (Q_WORKERS), WEBHOOKS CONCURRENCY "
        f"{conf.CONCURRENCY}, CONCURRENCY_PER_WEBHOOK {conf.CONCURRENCY_PER_WEBHOOK}, TIMEOUT "
        f"{conf.TIMEOUT:g} s; "
        f"{'quick' if args.quick else 'full'} sizes, median of {sizes.runs} runs",
        f"P9 and P10 on a cluster of their own with RETRY_DELAYS {engine.SHORT_RETRY_DELAYS} "
        f"(WEBHOOKS_TEST_OVERRIDES) instead of {engine.seconds(conf.RETRY_DELAYS)}",
        "-" * 100,
    ]
    for figure in results:
        status = {True: "PASS", False: "FAIL", None: "info"}[figure.passed]
        lines.append(f"{status:4}  {figure.name:46} {figure.measured}")
        lines.append(f"      {'target':46} {figure.target}")
        lines += [f"      {detail}" for detail in figure.details]
        if figure.seconds is not None:
            lines.append(f"      {'took':46} {figure.seconds:.0f} s")
    passed = sum(1 for figure in results if figure.passed)
    failed = sum(1 for figure in results if figure.passed is False)
    lines.append("-" * 100)
    lines.append("seconds per figure: " + "; ".join(f"{n} {s:.0f}" for n, s in timings))
    lines.append(
        f"{passed} passed, {failed} failed; {args.deployment} took "
        f"{time.monotonic() - started:.0f} s"
    )
    print("\n".join(lines), flush=True)
    return 0


def default_cluster_figures(wanted, step, receiver, cluster, sizes, workers: int) -> None:
    from bench import engine, figures

    if "P5" in wanted:
        step("P5 first-attempt latency", lambda: figures.p5_latency(receiver, sizes))
    if "P2" in wanted:
        step(
            "P2 throughput",
            lambda: figures.throughput(
                receiver,
                cluster,
                sizes,
                name="P2 throughput, receiver answers at once",
                prefix="/fast",
                orders=sizes.p2_orders,
                baseline_posts=sizes.p2_orders * 10,
                target=1.0,
            ),
        )
    if "P3" in wanted:
        step(
            "P3 latency hiding",
            lambda: figures.throughput(
                receiver,
                cluster,
                sizes,
                name="P3 latency hiding, receiver answers after 50 ms",
                prefix="/slow",
                orders=sizes.p3_orders,
                baseline_posts=sizes.p3_baseline_posts,
                target=10,
            ),
        )
    if "P7" in wanted:
        step("P7 memory", lambda: figures.p7_memory(receiver, cluster, sizes))
    if "P4" in wanted:
        step("P4 isolation", lambda: figures.p4_isolation(receiver, sizes))
    if "P8" in wanted:
        step("P8 slow receiver", lambda: engine.p8_slow_receiver(receiver, sizes, workers))
        step("P8 many slow receivers", lambda: engine.p8_many_receivers(receiver, sizes, workers))
    if "P11" in wanted:
        step("P11 fairness", lambda: engine.p11_fairness(receiver, sizes, workers))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployment", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--only", default="", help="comma-separated figures, e.g. P1,P6")
    parser.add_argument("--workers", type=int, default=2, help="qcluster workers (Q_WORKERS)")
    args = parser.parse_args()
    if args.deployment != "both":
        return run_deployment(args)
    status = 0
    for deployment in ("sqlite", "postgres"):
        if deployment == "postgres":
            missing = [
                name
                for name, port in (("PostgreSQL", 5432), ("Redis", 6379))
                if not _reachable(port)
            ]
            if missing:
                print(
                    f"SKIPPED postgres: {' and '.join(missing)} not reachable on 127.0.0.1 "
                    f"(start them to benchmark the PostgreSQL + Redis deployment)",
                    flush=True,
                )
                continue
        command = [sys.executable, __file__, "--deployment", deployment, "--runs", str(args.runs)]
        command += ["--workers", str(args.workers)]
        if args.quick:
            command.append("--quick")
        if args.only:
            command += ["--only", args.only]
        status |= subprocess.run(command, cwd=ROOT).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
