"""Long-lived ingestion: a follower per stream (the exactly-once write and commit of
`KafkaExtractor.follow`), its figures gathered into one report per stream and interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ownlens_kafka.lag import LagReader
from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.etl.extractor import ExtractResult, KafkaExtractor
from ownlens_pipelines.sensors import read_lag
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import Warehouse

FIRST_REPORT_S = 10.0  # a run's first report comes early: the UI shows its checks at once


@dataclass(slots=True)
class Interval:
    """What one stream's follower did since its last report."""

    rows: int = 0
    letters: int = 0
    rows_total: int | None = None
    latencies: list[pa.Array] = field(default_factory=list, repr=False)

    def add(self, rows: int, letters: int, result: ExtractResult) -> None:
        self.rows += rows
        self.letters += letters
        self.rows_total = result.rows_total
        if rows and result.latencies:
            self.latencies.append(result.latencies[-1])

    def metadata(self, seconds: float, lag: int | None) -> dict[str, Any]:
        """The interval's figures, for a materialization's metadata."""
        p50 = p95 = worst = None
        latency = pa.chunked_array(self.latencies, pa.float64())
        if len(latency) > latency.null_count:
            p50, p95 = (round(q, 3) for q in pc.quantile(latency, q=[0.5, 0.95]).to_pylist())
            worst = round(pc.max(latency).as_py(), 3)
        return {
            "dagster/row_count": self.rows_total,
            "rows_written": self.rows,
            "dead_lettered": self.letters,
            "lag": lag,
            "latency_p50_s": p50,
            "latency_p95_s": p95,
            "latency_max_s": worst,
            "events_per_s": round((self.rows + self.letters) / seconds, 1) if seconds else 0.0,
            "interval_s": round(seconds, 1),
        }


@dataclass(frozen=True, slots=True)
class Report:
    """One report of every stream: the intervals of those that wrote, and every stream's lag."""

    intervals: dict[str, Interval]
    lag: dict[str, int]
    seconds: float  # since the last report
    elapsed: float  # since the followers started
    final: bool


Progress = Callable[[str, int, int], None]  # stream, rows written now, rows of its table


class _Tally:
    """The followers' writes, gathered per stream until the next report."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self._lock = threading.Lock()
        self._intervals: dict[str, Interval] = {}
        self.last_write = time.monotonic()

    def recorder(self, spec: StreamSpec) -> Any:
        seen = [0, 0]  # rows, letters: a follower's result counts from its start

        def on_write(result: ExtractResult) -> None:
            rows, letters = result.rows_written - seen[0], result.dead_lettered - seen[1]
            seen[:] = [result.rows_written, result.dead_lettered]
            with self._lock:
                self._intervals.setdefault(spec.name, Interval()).add(rows, letters, result)
                if rows or letters:
                    self.last_write = time.monotonic()
            if rows and self.progress is not None:
                self.progress(spec.name, rows, result.rows_total)

        return on_write

    def take(self) -> dict[str, Interval]:
        with self._lock:
            taken, self._intervals = self._intervals, {}
        return {name: i for name, i in taken.items() if i.rows or i.letters}


def follow(
    specs: Sequence[StreamSpec],
    etl: ETLConfig,
    stop: threading.Event,
    *,
    report_interval: float,
    idle_timeout: float | None = None,
    max_duration: float | None = None,
    interrupts: tuple[type[BaseException], ...] = (KeyboardInterrupt,),
    progress: Progress | None = None,
) -> Generator[Report, None, None]:
    """Follow every stream until `stop` is set, nothing was written for `idle_timeout` seconds,
    `max_duration` passed or one of `interrupts` is raised; a first report after
    FIRST_REPORT_S, then one every `report_interval` seconds, and a last one once every
    follower has ended its batch. A follower that fails
    stops the others, and raises here. `progress` is told of each write as it lands."""
    warehouse = Warehouse(etl.warehouse)
    for spec in specs:  # schema changes from one place: they fail concurrent commits
        warehouse.ensure_raw_table(spec)
    tally, errors = _Tally(progress), list[BaseException]()

    def run(spec: StreamSpec) -> None:
        try:
            KafkaExtractor(spec, etl).follow(stop, tally.recorder(spec))
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    # daemon threads: a process ended without closing this generator still exits (a batch cut
    # short is written again by the next follower: nothing is lost or doubled)
    threads = [
        threading.Thread(target=run, args=(s,), name=f"follow-{s.name}", daemon=True) for s in specs
    ]
    started = reported = time.monotonic()
    with LagReader(etl.kafka) as reader:

        def report(final: bool) -> Report:
            nonlocal reported
            now = time.monotonic()
            lags: dict[str, int] = {}
            group = {spec.group_id: spec.name for spec in specs}
            for lag in read_lag(reader, etl.kafka, specs):
                name = group[lag.group_id]
                lags[name] = lags.get(name, 0) + lag.lag
            seconds, reported = now - reported, now
            return Report(tally.take(), lags, seconds, now - started, final)

        for thread in threads:
            thread.start()
        try:
            while not stop.wait(min(1.0, report_interval)):
                now = time.monotonic()
                if idle_timeout is not None and now - tally.last_write > idle_timeout:
                    break
                if max_duration is not None and now - started > max_duration:
                    break
                first = reported == started and now - started >= FIRST_REPORT_S
                if first or now - reported >= report_interval:
                    yield report(final=False)
        except interrupts:
            pass
        finally:  # interrupted or closed early as well: every follower ends its batch
            stop.set()
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]
        yield report(final=True)
