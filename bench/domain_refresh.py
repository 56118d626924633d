"""Domain refresh after 10k new events, against a small and a large raw history, same run.

The history is `raw.user_events` at a fixed daily rate (100k events a day: 200k rows are two
days, 12.8M rows 128 days), written straight as Delta files from a template of typed rows. Then,
per round, 10k new events go through the real write path (`Warehouse.write_raw`), 99 % on the
newest day and 1 % late (a random day among the `--late-days` before it; `--late-days 0`: any
day of the history), and every domain table is refreshed; the figure is
the refresh time (all tables, and `customer.daily_engagement` alone), median over the rounds,
and the ratio large/small. A full rebuild of `customer.daily_engagement` is timed once per size.

    .venv/bin/python bench/domain_refresh.py [--sizes 200000 12800000] [--rounds 3] [--late-days 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from _common import payloads
from deltalake import write_deltalake

from ownlens_kafka import get_stream
from ownlens_kafka.consumer import ConsumedEvent
from ownlens_pipelines.assets.domain import DOMAIN_ASSETS
from ownlens_pipelines.refresh import refresh
from ownlens_pipelines.schema import events_table
from ownlens_pipelines.warehouse import Warehouse, raw_table

SPEC = get_stream("user_events")
PER_DAY = 100_000
CHUNK = 1_000_000
NEW = 10_000
FIRST_DAY = date(2026, 1, 1)


def typed_events(count: int, first_offset: int, days: list[date], late_days: int) -> pa.Table:
    """`count` valid events through the models, as the extractor hands them to the warehouse."""
    rng = random.Random(first_offset)
    late = days[-1 - late_days : -1] if late_days else days[:-1]
    events = []
    for i, payload in enumerate(payloads(SPEC.model, count)):
        day = days[-1] if rng.random() < 0.99 or not late else rng.choice(late)
        moment = datetime(day.year, day.month, day.day, rng.randrange(24), tzinfo=UTC)
        payload["event_timestamp"] = moment.isoformat()
        event = SPEC.model.model_validate(payload)
        events.append(ConsumedEvent(event, "k", "bench", 0, first_offset + i, []))
    return events_table(SPEC.model, events, "bench-topic")


def history(warehouse: Warehouse, rows: int) -> list[date]:
    """`rows` raw rows, PER_DAY a day, written in chunks; returns the days covered."""
    template = warehouse.typed(SPEC, typed_events(1_000, 0, [FIRST_DAY], 0))
    days = [FIRST_DAY + timedelta(days=d) for d in range(max(1, rows // PER_DAY))]
    uri = warehouse.uri(raw_table(SPEC))
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        offsets = pa.array(range(start, start + n), pa.int64())
        chunk = template.take(pc.cast(pc.remainder(offsets, template.num_rows), pa.int64()))
        day_index = pc.divide(offsets, PER_DAY)
        epoch = pc.cast(pa.scalar(FIRST_DAY), pa.int32())
        event_date = pc.cast(pc.add(pc.cast(day_index, pa.int32()), epoch), pa.date32())
        seconds = pc.add(
            pc.multiply(pc.cast(event_date, pa.int32()).cast(pa.int64()), 86_400),
            pc.remainder(offsets, 86_400),
        )
        stamp = pc.cast(pc.multiply(seconds, 1_000_000), pa.timestamp("us", tz="UTC"))
        ids = pc.binary_join_element_wise("h-", pc.cast(offsets, pa.string()), "")
        for name, column in (
            ("event_id", ids),
            ("event_date", event_date),
            ("event_timestamp", stamp),
            ("_offset", offsets),
        ):
            chunk = chunk.set_column(chunk.schema.get_field_index(name), name, column)
        write_deltalake(uri, chunk, mode="append")
    return days


def one_size(rows: int, rounds: int, late_days: int) -> dict[str, list[float]]:
    root = tempfile.mkdtemp(prefix="ownlens-refresh-")
    warehouse = Warehouse(root)
    warehouse.ensure_raw_table(SPEC)
    started = time.perf_counter()
    days = history(warehouse, rows)
    print(f"  {rows:>11,} rows of history written in {time.perf_counter() - started:.1f} s")
    for spec in DOMAIN_ASSETS:
        refresh(warehouse, spec)  # the first build: full
    figures: dict[str, list[float]] = {"all": [], "daily_engagement": []}
    offset = rows
    for _ in range(rounds):
        warehouse.write_raw(SPEC, typed_events(NEW, offset, days, late_days))
        offset += NEW
        total = 0.0
        for spec in DOMAIN_ASSETS:
            done = refresh(warehouse, spec)
            total += done.seconds
            if spec.name == "daily_engagement":
                assert done.mode == "incremental", done
                figures["daily_engagement"].append(done.seconds)
        figures["all"].append(total)
    spec = next(s for s in DOMAIN_ASSETS if s.name == "daily_engagement")
    figures["full_daily_engagement"] = [refresh(warehouse, spec, full=True).seconds]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 12_800_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--late-days", type=int, default=3, help="0: late events on any day")
    args = parser.parse_args()
    results = {}
    for rows in args.sizes:
        print(f"history of {rows:,} rows")
        results[rows] = one_size(rows, args.rounds, args.late_days)
        for name, values in results[rows].items():
            print(
                f"  {name:<24} median {statistics.median(values):.3f} s   "
                f"(runs: {', '.join(f'{v:.3f}' for v in values)})"
            )
    small, large = min(results), max(results)
    if small != large:
        for name in ("all", "daily_engagement"):
            ratio = statistics.median(results[large][name]) / statistics.median(
                results[small][name]
            )
            print(f"ratio {large:,} / {small:,} rows, {name}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
