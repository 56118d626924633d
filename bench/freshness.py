"""Freshness under `make run`: the stack as `ownlens dev` starts it (embedded broker, Dagster
daemon, sensors at their default interval), demo traffic at a fixed rate for a fixed time; prints
produce-to-warehouse latency (p50/p95/max), the longest run queue, runs launched per minute and
the lag when production stops.

    python bench/freshness.py --rate 20 --duration 180
    python bench/freshness.py --rate 1000 --duration 600
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg

from ownlens_kafka.broker import free_port
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import group_lag, stream_groups
from ownlens_kafka.streams import STREAMS
from ownlens_pipelines.dev import STATE_DIR, DevStack
from ownlens_pipelines.warehouse import Warehouse

WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


@dataclass
class Watch:
    """What the poller saw while traffic flowed."""

    longest_queue: int = 0
    longest_waiting: int = 0  # launched runs still starting (their step not yet begun)
    samples: list[tuple[float, int, int]] = field(default_factory=list)


def queue_now(instance: dg.DagsterInstance) -> tuple[int, int]:
    """(queued runs, launched runs whose step has not begun yet)."""
    queued = instance.get_runs_count(dg.RunsFilter(statuses=WAITING))
    started = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    waiting = sum(
        not instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1
        ).records
        for run in started
    )
    return queued, waiting


def watch(home: Path, stop: threading.Event, seen: Watch) -> None:
    while not (home / "dagster.yaml").exists() and not stop.is_set():
        time.sleep(0.5)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while not stop.wait(1.0):
            with contextlib.suppress(Exception):  # the stack may be writing its first tables
                queued, waiting = queue_now(instance)
                seen.longest_queue = max(seen.longest_queue, queued)
                seen.longest_waiting = max(seen.longest_waiting, waiting)
                seen.samples.append((time.time(), queued, waiting))


def total_lag(config: KafkaConfig) -> int | None:
    """Every group's lag, or None when the broker does not answer within the read's timeout."""
    try:
        return sum(p.lag for p in group_lag(config, stream_groups(config, STREAMS)))
    except TimeoutError:
        return None


def materialized_at(
    instance: dg.DagsterInstance, stream: str
) -> dict[int, list[tuple[int, float]]]:
    """Per partition, (last offset written, materialization time) in offset order."""
    records = instance.fetch_materializations(dg.AssetKey(["raw", stream]), limit=100_000).records
    by_partition: dict[int, list[tuple[int, float]]] = {}
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        offsets = materialization.metadata.get("offsets")
        ranges = cast(
            dict[str, list[int]], offsets.value if offsets else {}
        )  # {partition: [first, last]}
        for partition, (_, last) in ranges.items():
            by_partition.setdefault(int(partition), []).append((last, record.timestamp))
    return {p: sorted(marks) for p, marks in by_partition.items()}


def latencies(
    warehouse: Path, instance: dg.DagsterInstance, since: datetime, until: datetime
) -> Iterator[tuple[float, float]]:
    """(produced at, seconds to the warehouse) of each row produced in [since, until]: from
    `_ingested_at` when rows carry it, else from the materialization that wrote the row."""
    with Warehouse(str(warehouse)).connect() as connection:
        for spec in STREAMS:
            columns = {row[0] for row in connection.execute(f"DESCRIBE raw.{spec.name}").fetchall()}
            if "_ingested_at" in columns:
                rows = connection.execute(
                    f"SELECT epoch(_produced_at), epoch(_ingested_at - _produced_at) "
                    f"FROM raw.{spec.name} WHERE _produced_at BETWEEN ? AND ?",
                    [since, until],
                ).fetchall()
                yield from ((float(p), float(s)) for p, s in rows)
                continue
            marks = materialized_at(instance, spec.name)
            rows = connection.execute(
                f"SELECT _partition, _offset, epoch(_produced_at) FROM raw.{spec.name} "
                "WHERE _produced_at BETWEEN ? AND ?",
                [since, until],
            ).fetchall()
            for partition, offset, produced in rows:
                found = marks.get(partition, [])
                index = bisect.bisect_left(found, (offset, 0.0))
                if index < len(found):
                    yield float(produced), found[index][1] - float(produced)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def runs_per_minute(instance: dg.DagsterInstance, since: float, until: float) -> dict[str, float]:
    runs = instance.get_run_records(dg.RunsFilter(created_after=datetime.fromtimestamp(since, UTC)))
    minutes = (until - since) / 60
    counts: dict[str, int] = {}
    for record in runs:
        if record.create_timestamp.timestamp() <= until:
            counts[record.dagster_run.job_name] = counts.get(record.dagster_run.job_name, 0) + 1
    return {job: count / minutes for job, count in sorted(counts.items())}


def bench(rate: float, duration: float, warmup: float, drain: float) -> dict[str, Any]:
    os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # the embedded broker, as `make run`
    os.environ.pop("OWNLENS_WAREHOUSE", None)
    stack = DevStack(port=free_port(), broker_port=free_port(), rate=rate, say=lambda _: None)
    home = (STATE_DIR / "dagster_home").resolve()
    stop, seen = threading.Event(), Watch()
    try:
        stack.start()
        assert stack.broker is not None
        config = stack.broker.kafka_config()
        time.sleep(warmup)  # the first runs start from the backlog of the start-up
        poller = threading.Thread(target=watch, args=(home, stop, seen), daemon=True)
        poller.start()
        since, started = datetime.now(UTC), time.time()
        lags = []
        while time.time() - started < duration:
            time.sleep(min(30.0, duration - (time.time() - started)))
            lags.append(total_lag(config))
        until, ended = datetime.now(UTC), time.time()
        generator = stack.children["generator"]
        generator.send_signal(signal.SIGINT)  # production stops; ingestion catches up
        generator.wait(30)
        end_lag = total_lag(config)
        deadline = time.time() + drain
        while total_lag(config) != 0 and time.time() < deadline:
            time.sleep(1.0)
        stop.set()
        poller.join()
    finally:
        stopped = time.monotonic()
        stack.stop()
        stop_seconds = time.monotonic() - stopped
    with dg.DagsterInstance.from_config(str(home)) as instance:
        points = sorted(latencies(STATE_DIR / "lake", instance, since, until))
        per_minute = runs_per_minute(instance, started, ended)
    values = [seconds for _, seconds in points]
    minutes = [
        statistics.median([s for p, s in points if started + 60 * i <= p < started + 60 * (i + 1)])
        for i in range(int(duration // 60))
        if any(started + 60 * i <= p < started + 60 * (i + 1) for p, _ in points)
    ]
    return {
        "rows": len(values),
        "p50": percentile(values, 0.5) if values else None,
        "p95": percentile(values, 0.95) if values else None,
        "max": max(values) if values else None,
        "p50_per_minute": [round(m, 1) for m in minutes],
        "longest_queue": seen.longest_queue,
        "longest_waiting": seen.longest_waiting,
        "runs_per_minute": per_minute,
        "lag_samples": lags,
        "end_lag": end_lag,
        "stop_s": stop_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, action="append", help="events/s (repeatable)")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of traffic")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before measuring")
    parser.add_argument("--drain", type=float, default=60.0, help="most seconds to catch up")
    args = parser.parse_args()
    for rate in args.rate or [20.0, 1000.0]:
        with tempfile.TemporaryDirectory(prefix="ownlens-freshness-") as workdir:
            here = os.getcwd()
            os.chdir(workdir)  # `.ownlens/` of its own
            try:
                figures = bench(rate, args.duration, args.warmup, args.drain)
            finally:
                os.chdir(here)
        p50, p95, worst = (figures[k] for k in ("p50", "p95", "max"))
        shown = ", ".join(f"{job} {n:.1f}" for job, n in figures["runs_per_minute"].items())
        print(
            f"{rate:>7,.0f} ev/s for {args.duration:.0f} s: {figures['rows']:,} rows; latency "
            f"p50 {p50:.1f} s, p95 {p95:.1f} s, max {worst:.1f} s"
            if p50 is not None
            else f"{rate:>7,.0f} ev/s: no rows measured",
            flush=True,
        )
        print(f"  p50 per minute: {figures['p50_per_minute']}")
        print(
            f"  longest queue {figures['longest_queue']} queued (+{figures['longest_waiting']} "
            f"launched, starting); runs created per minute: {shown}"
        )
        print(
            f"  lag every 30 s: {figures['lag_samples']}; when production stopped: "
            f"{figures['end_lag']}; stack stopped in {figures['stop_s']:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
