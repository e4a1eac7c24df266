"""Where a qcluster spends a P2 run: py-spy on every cluster process, summarised.

    bench/profile.py --deployment sqlite [--orders 1000] [--workers 2] [--idle]

Runs one P2 delivery (orders x 10 webhooks at the fast receiver) while ``py-spy record``
samples the cluster's processes (``pip install py-spy``; needs ptrace, e.g. root), then
prints the CPU used by each process and the functions with the most samples (inclusive and
own), from py-spy's raw (collapsed-stack) output, which it keeps for flame graphs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


SERVERS = {"postgres", "redis-server"}


def _cpu(process: psutil.Process) -> float:
    try:
        return sum(process.cpu_times()[:2])
    except psutil.Error:
        return 0.0


def summarise(raw: Path, top: int) -> list[str]:
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = [frame.split(" (")[0] + " " + frame.split("/")[-1] for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    lines = [f"{total} samples; inclusive (with callees):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines.append("own (without callees):")
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployment", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--idle", action="store_true", help="also sample waiting threads")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--output", default=str(Path(tempfile.gettempdir()) / "bench-p2.raw"))
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    from bench import harness

    harness.configure(args.deployment)
    from bench.figures import deliver_orders

    receiver = harness.ReceiverProcess()
    cluster = harness.start_cluster(workers=args.workers)
    try:
        deliver_orders(receiver, 50, [f"/fast/{n}" for n in range(10)], "/fast", 500, 120)
        processes = harness.cluster_processes(cluster)
        cpu_before = {p.pid: sum(p.cpu_times()[:2]) for p in processes}
        machine_before = psutil.cpu_times()
        servers = [p for p in psutil.process_iter(["name"]) if p.info["name"] in SERVERS]
        server_before = {p.pid: _cpu(p) for p in servers}
        command = [py_spy, "record", "--pid", str(cluster.process.pid), "--subprocesses"]
        command += ["--format", "raw", "--rate", "250", "--output", args.output, "--nonblocking"]
        if args.idle:
            command.append("--idle")
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1)  # py-spy attaches to every process before the load starts
        started = time.monotonic()
        paths = [f"/fast/{n}" for n in range(10)]
        arrived, recorded = deliver_orders(
            receiver, args.orders, paths, "/fast", args.orders * 10, 600
        )
        wall = time.monotonic() - started
        cpu = {p.pid: sum(p.cpu_times()[:2]) - cpu_before[p.pid] for p in processes}
        machine_after = psutil.cpu_times()
        server_cpu = sum(_cpu(p) - server_before[p.pid] for p in servers)
        spy.send_signal(2)
        spy.wait(30)
    finally:
        cluster.stop()
        receiver.stop()
    print(
        f"{args.orders * 10} deliveries: {args.orders * 10 / arrived:.0f}/s to the last "
        f"arrival ({arrived:.2f} s), recorded after {recorded:.2f} s; wall {wall:.1f} s"
    )
    busy = sum(machine_after) - sum(machine_before)
    idle = (machine_after.idle + machine_after.iowait) - (
        machine_before.idle + machine_before.iowait
    )
    print(
        f"  machine: {(busy - idle) / busy:.0%} of {psutil.cpu_count()} cores busy; "
        f"database/broker servers {server_cpu:.1f} s CPU ({server_cpu / wall:.0%} of one core)"
    )
    for process in processes:
        print(f"  pid {process.pid}: {cpu[process.pid]:.1f} s CPU ({cpu[process.pid] / wall:.0%})")
    print("\n".join(summarise(Path(args.output), args.top)))
    print(f"raw stacks: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
