"""The stack as `make run` starts it (`ownlens dev`, in a directory of its own), for a given time
and demo rate. Every window (5 minutes by default) it prints:

- produce-to-row latency p50/p95/max of the rows produced in the window (read from a second
  process, as a user's query would, once the window is `--settle` seconds old);
- runs started in the window, per job;
- Dagster's storage (the instance directory) and `.ownlens/` logs, and their growth per hour;
- the share of the raw checks' states that showed a completed result (sampled every 5 s over
  GraphQL, `executionForLatestMaterialization`);
- RSS and CPU of each process of the stack.

At the end: per-minute p50, and how long the stack took to stop after Ctrl-C (SIGINT).

    .venv/bin/python bench/soak.py --rate 20 --minutes 10
    .venv/bin/python bench/soak.py --rate 1000 --minutes 10 --window 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from ownlens_kafka.broker import free_port, port_in_use
from ownlens_kafka.streams import STREAMS
from ownlens_pipelines.warehouse import Warehouse

BIN = Path(sys.executable).parent
COMPLETED = {"SUCCEEDED", "FAILED"}
CHECKS = "\n".join(
    f'  s{i}: assetNodeOrError(assetKey: {{path: ["raw", "{spec.name}"]}}) {{ ... on AssetNode {{'
    " assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization"
    " { status } } } } } }"
    for i, spec in enumerate(STREAMS)
)


def role(process: psutil.Process) -> str:
    """What part of the stack a process is, from its command line."""
    try:
        line = " ".join(process.cmdline())
    except psutil.Error:
        return "gone"
    for needle, name in (
        ("tansu", "broker"),
        ("generate", "generator"),
        ("dagster-daemon", "daemon"),
        ("dagster-webserver", "webserver"),
        ("execute_run", "run worker"),
        ("spawn_main", "run worker"),  # the code server starts runs in spawned processes
        ("resource_tracker", "resource tracker"),
        ("--lazy-load-user-code", "code server (daemon's)"),
        ("api grpc", "code server"),
        ("ownlens dev", "ownlens dev"),
    ):
        if needle in line:
            return name
    return process.name()


def family(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def size(path: Path, pattern: str = "**/*") -> int:
    return sum(p.stat().st_size for p in path.glob(pattern) if p.is_file())


def latencies(warehouse: Warehouse, since: datetime, until: datetime) -> list[float]:
    """Produce-to-row seconds of every raw row produced in [since, until)."""
    union = " UNION ALL ".join(
        f"SELECT epoch(_ingested_at - _produced_at) AS s FROM raw.{spec.name} "
        "WHERE _produced_at >= $since AND _produced_at < $until"
        for spec in STREAMS
    )
    with warehouse.connect() as db:
        rows = db.execute(union, {"since": since, "until": until}).fetchall()
    return sorted(float(s) for (s,) in rows if s is not None)


def figures(values: list[float]) -> str:
    if not values:
        return "no rows"
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"p50 {statistics.median(values):.2f} s, p95 {p95:.2f} s, max {values[-1]:.2f} s"


class CheckSampler(threading.Thread):
    """The raw checks' states, every 5 s, as the UI's asset pages ask for them."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.states, self.stop = port, Counter[str](), threading.Event()
        self.samples = self.all_completed = 0

    def run(self) -> None:
        while not self.stop.wait(5.0):
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{self.port}/graphql",
                    data=json.dumps({"query": "query {\n" + CHECKS + "\n}"}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    data = json.load(response)["data"]
            except (OSError, ValueError, KeyError):
                self.states["unreachable"] += 1
                continue
            found = [
                (check["executionForLatestMaterialization"] or {}).get("status") or "none"
                for node in data.values()
                for check in node["assetChecksOrError"]["checks"]
            ]
            self.states.update(found)
            self.samples += 1
            self.all_completed += all(state in COMPLETED for state in found)

    def take(self) -> tuple[Counter[str], int, int]:
        taken = (self.states, self.samples, self.all_completed)
        self.states, self.samples, self.all_completed = Counter(), 0, 0
        return taken


def runs_started(home: Path, since: datetime) -> Counter[str]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(created_after=since))
    return Counter(record.dagster_run.job_name for record in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=5.0, help="minutes per printed window")
    parser.add_argument(
        "--settle", type=float, default=30.0, help="seconds before a window is read"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ownlens-soak-"))
    port, broker_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "OWNLENS_"))}
    command = [str(BIN / "ownlens"), "dev", "--port", str(port), "--broker-port", str(broker_port)]
    command += ["--rate", str(args.rate)]
    log = (workdir / "dev.out").open("wb")
    dev = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    state = workdir / ".ownlens"
    home, warehouse = state / "dagster_home", Warehouse(str(state / "lake"))
    deadline = time.monotonic() + 240
    while not port_in_use(port):
        if dev.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the stack did not start: see {workdir / 'dev.out'}")
        time.sleep(1)
    started = datetime.now(UTC)
    print(
        f"stack up in {workdir} (rate {args.rate:g}/s); windows of {args.window:g} min", flush=True
    )
    sampler = CheckSampler(port)
    sampler.start()
    root = psutil.Process(dev.pid)
    cpu: dict[int, float] = {}
    stored = size(home) + size(state, "*.log")
    window = timedelta(minutes=args.window)
    edge, per_minute = started, list[list[float]]()
    try:
        while edge + window <= started + timedelta(minutes=args.minutes):
            end = edge + window
            time.sleep(max((end - datetime.now(UTC)).total_seconds(), 0) + args.settle)
            values = latencies(warehouse, edge, end)
            minutes = [edge + timedelta(minutes=m) for m in range(int(args.window) + 1)]
            per_minute += [latencies(warehouse, a, b) for a, b in itertools.pairwise(minutes)]
            runs = runs_started(home, edge)
            dagster_bytes, log_bytes = size(home), size(state, "*.log")
            growth = (dagster_bytes + log_bytes - stored) / window.total_seconds() * 3600
            stored = dagster_bytes + log_bytes
            states, samples, all_done = sampler.take()
            shown = sum(n for s, n in states.items() if s in COMPLETED)
            minute = (end - started).total_seconds() / 60
            print(f"--- minutes {minute - args.window:g}-{minute:g}: {len(values)} rows")
            print(f"  produce-to-row: {figures(values)}")
            print(f"  runs started: {sum(runs.values())} {dict(runs)}")
            print(
                f"  Dagster storage {dagster_bytes / 1e6:.1f} MB, .ownlens logs "
                f"{log_bytes / 1e6:.1f} MB; growth {growth / 1e6:.1f} MB/h"
            )
            total = sum(states.values()) or 1
            print(
                f"  checks completed: {shown / total:.1%} of {sum(states.values())} states "
                f"({dict(states)}); every check completed in {all_done}/{samples} samples"
            )
            usage: dict[str, list[float]] = {}
            for process in family(root):
                try:
                    times = process.cpu_times()
                    spent = times.user + times.system
                    rss = process.memory_info().rss
                except psutil.Error:
                    continue
                share = (spent - cpu.get(process.pid, 0.0)) / window.total_seconds()
                cpu[process.pid] = spent
                rows = usage.setdefault(role(process), [0.0, 0.0, 0.0])
                rows[0] += rss / 1e6
                rows[1] += share * 100
                rows[2] += 1
            for name, (rss_mb, percent, count) in sorted(usage.items()):
                print(f"  {name:24} x{count:.0f}  RSS {rss_mb:7.0f} MB  CPU {percent:5.1f} %")
            sys.stdout.flush()
            edge = end
    finally:
        sampler.stop.set()
        processes = family(root)
        stopping = time.monotonic()
        dev.send_signal(signal.SIGINT)
        _, alive = psutil.wait_procs(processes, timeout=30)
        gone = time.monotonic() - stopping
        print(f"stopped by SIGINT: every process gone in {gone:.1f} s ({len(alive)} left)")
        for leftover in alive:
            leftover.kill()
    medians = [f"{statistics.median(v):.2f}" if v else "-" for v in per_minute]
    print(f"per-minute p50 (s): {', '.join(medians)}")
    if len(per_minute) >= 2 and per_minute[1] and per_minute[-1]:
        ratio = statistics.median(per_minute[-1]) / statistics.median(per_minute[1])
        print(f"last minute / second minute: {ratio:.2f}x")


if __name__ == "__main__":
    main()
