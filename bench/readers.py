"""Readers while the warehouse is fed: demo traffic at a fixed rate (`ownlens generate`) streamed
into the Delta tables (`ownlens stream`), and, from this process, a DuckDB session opened every
0.5 s (as `ownlens sql` does) for one phase, then one session held open for a second phase.

Prints the share of read attempts that succeeded, their median and worst duration, and the
produce-to-row latency (p50) of the rows produced in each phase: the held snapshot must leave
ingestion as fresh as without it.

    .venv/bin/python bench/readers.py --rate 1000 --seconds 300
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import broker_config

from ownlens_kafka import create_topics
from ownlens_pipelines.warehouse import Warehouse

BIN = Path(sys.executable).parent


def p50_latency(warehouse: Warehouse, since: datetime, until: datetime) -> tuple[float, int]:
    with warehouse.connect() as db:
        row = db.execute(
            "SELECT quantile_cont(epoch(_ingested_at - _produced_at), 0.5), count(*) "
            "FROM raw.user_events WHERE _produced_at BETWEEN ? AND ?",
            [since, until],
        ).fetchone()
    assert row is not None
    return float(row[0] or 0.0), int(row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="ownlens-readers-")
    warehouse = Warehouse(root)
    with broker_config() as config:
        create_topics(config)
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": config.bootstrap_servers,
            "KAFKA_NAMESPACE": config.namespace or "",
            "OWNLENS_WAREHOUSE": root,
            "DAGSTER_HOME": "",
        }
        env.pop("DAGSTER_HOME")
        traffic = subprocess.Popen(
            [BIN / "ownlens", "generate", "--rate", str(args.rate)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stream = subprocess.Popen(
            [BIN / "ownlens", "stream", "--quiet"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while warehouse.table("raw.user_events") is None:
                time.sleep(0.5)
            time.sleep(10)  # the followers joined and caught up
            attempts, failures, durations = 0, 0, []
            first = datetime.now(UTC)
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                attempts += 1
                started = time.perf_counter()
                try:
                    with warehouse.connect() as db:
                        db.execute("SELECT count(*), max(_ingested_at) FROM raw.user_events")
                    durations.append(time.perf_counter() - started)
                except Exception as exc:
                    failures += 1
                    print(f"  read failed: {type(exc).__name__}: {exc}")
                time.sleep(max(0.0, 0.5 - (time.perf_counter() - started)))
            second = datetime.now(UTC)
            held = warehouse.session()  # a notebook left open for the whole phase
            held.execute("SELECT count(*) FROM raw.user_events").fetchall()
            time.sleep(args.seconds)
            held_rows = held.execute("SELECT count(*) FROM raw.user_events").fetchall()[0][0]
            held.close()
            third = datetime.now(UTC)
            time.sleep(10)  # the last rows of the phase land
        finally:
            for process in (traffic, stream):
                process.send_signal(signal.SIGINT)
            for process in (traffic, stream):
                process.wait(30)
        free, free_rows = p50_latency(warehouse, first, second)
        holding, holding_rows = p50_latency(warehouse, second, third)
    print(f"rate {args.rate:g} events/s (all streams), phases of {args.seconds:g} s")
    print(
        f"reads: {attempts - failures}/{attempts} succeeded "
        f"({100 * (attempts - failures) / attempts:.1f} %), median "
        f"{statistics.median(durations):.3f} s, worst {max(durations):.3f} s"
    )
    print(f"produce-to-row p50, nobody holding a snapshot: {free:.2f} s ({free_rows} rows)")
    print(
        f"produce-to-row p50, one snapshot held:          {holding:.2f} s ({holding_rows} rows; "
        f"the held snapshot still read {held_rows} rows)"
    )
    print(f"ratio held / free: {holding / free if free else float('nan'):.2f}x")
    print(f"exit code of `ownlens stream`: {stream.returncode}")


if __name__ == "__main__":
    main()
