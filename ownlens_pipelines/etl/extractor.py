"""KafkaExtractor: a stream's consumer group, from its committed offsets to the end offsets seen at
the start, into the Delta table `raw.<stream>`; offsets committed only after the write.

Per batch, Python only judges each record (the fast gate, or pydantic when the gate declines) and
hands DuckDB (in memory) the canonical JSON to type into Arrow; delta-rs writes it as one commit
that records the batch's last offset per partition. Batch n is typed, lettered and committed in a
second thread while batch n+1 is fetched and judged; its Kafka offsets are committed last.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import Consumer, Message, TopicPartition
from deltalake.exceptions import DeltaError

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.consumer import Ack, BaseKafkaConsumer
from ownlens_kafka.dead_letter import Letter, Rejected
from ownlens_kafka.envelope import Headers
from ownlens_kafka.gate import gate_for
from ownlens_kafka.gcpause import paused_gc
from ownlens_kafka.lag import group_lag
from ownlens_kafka.logs import with_logging
from ownlens_kafka.models import EventModel
from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.json_rows import VALUE
from ownlens_pipelines.progress import Progress, report
from ownlens_pipelines.schema import HEADER_COLUMNS, METADATA_COLUMNS, HeaderParser
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import OffsetRange, Warehouse, WarehouseSchemaError, raw_table

log = logging.getLogger(__name__)
Step = Callable[[str], None]
_WRITE_ATTEMPTS = 3
_FOLLOW_PAUSE_MAX_S = 30.0  # a follower retries an outage at least this often
_RETRY_PAUSE_S = 0.5
# Errors of the data in a row (a value DuckDB cannot type), as opposed to the warehouse's own.
_ROW_ERRORS = (
    duckdb.ConversionException,
    duckdb.InvalidInputException,
    duckdb.OutOfRangeException,
    duckdb.TypeMismatchException,
)
_TRANSIENT = (DeltaError, OSError)  # the store unreachable or busy: the write is idempotent
_LATENCY_BATCHES = 1_000  # latency figures over at most this many recent batches


@dataclass(slots=True)
class ExtractResult:
    """What one extraction read, wrote and left behind."""

    stream: str
    table: str
    rows_written: int = 0
    dead_lettered: int = 0
    batches: int = 0
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)
    targets: dict[int, int] = field(default_factory=dict)
    lag_before: int = 0
    lag_after: int = 0
    caught_up: bool = True  # reached the end offsets seen at the start (lag after may be new)
    rows_total: int = 0
    duration_s: float = 0.0
    latency_s: tuple[float | None, float | None, float | None] = (None, None, None)
    slow_path: int = 0  # records the fast gate left to pydantic
    write_costs: list[tuple[int, float]] = field(default_factory=list)  # rows, seconds per batch
    latencies: list[pa.Array] = field(default_factory=list, repr=False)  # produce to row, per batch

    def latency(self) -> tuple[float | None, float | None, float | None]:
        """Produce-to-warehouse seconds over the rows written: p50, p95, max."""
        seconds = pa.chunked_array(self.latencies[-_LATENCY_BATCHES:], pa.float64())
        if len(seconds) == seconds.null_count:
            return None, None, None
        p50, p95 = pc.quantile(seconds, q=[0.5, 0.95]).to_pylist()
        worst = pc.max(seconds).as_py()
        return round(p50, 3), round(p95, 3), round(worst, 3)

    def metadata(self) -> dict[str, Any]:
        """Figures for Dagster metadata (the UI plots the numeric ones)."""
        per_second = self.rows_written / self.duration_s if self.duration_s else 0.0
        p50, p95, worst = self.latency_s
        return {
            "dagster/row_count": self.rows_total,
            "rows_written": self.rows_written,
            "dead_lettered": self.dead_lettered,
            "lag_before": self.lag_before,
            "lag_after": self.lag_after,
            "caught_up": self.caught_up,
            "batches": self.batches,
            "duration_s": round(self.duration_s, 3),
            "events_per_s": round(per_second, 1),
            "latency_p50_s": p50,
            "latency_p95_s": p95,
            "latency_max_s": worst,
            "slow_path": self.slow_path,
            "offsets": {str(p): list(r) for p, r in sorted(self.offsets.items())},
            "end_offsets_at_start": {str(p): e for p, e in sorted(self.targets.items())},
        }

    def note(self, ack: Ack) -> None:
        for (_, partition), (first, last) in ack.ranges.items():
            known = self.offsets.get(partition)
            self.offsets[partition] = (first, last) if known is None else (known[0], last)


class _Rows:
    """The accepted records of one batch, as the columns the warehouse types: each event's
    canonical JSON, and where it came from."""

    def __init__(self, model: type[EventModel], headers: HeaderParser) -> None:
        self._gate = gate_for(model)
        self._validate = model.model_validate_json
        self._serialize = model.__pydantic_serializer__.to_json
        self._headers = headers
        self.slow = 0
        self.values: list[bytes] = []
        self.partitions: list[int] = []
        self.offsets: list[int] = []
        self.keys: list[str | None] = []
        self.headers: list[tuple[Any, ...]] = []

    def accept(self, message: Message) -> None:
        """Judge one record; raising makes it a dead letter."""
        raw = message.value()
        value = self._gate(raw) if raw is not None else None
        if value is None:  # the gate declines what it cannot judge: pydantic decides
            self.slow += 1
            value = self._serialize(self._validate(raw or b""))
        headers = self._headers(cast(Headers | None, message.headers()))
        key = message.key()
        self.values.append(value)
        self.partitions.append(cast(int, message.partition()))
        self.offsets.append(cast(int, message.offset()))
        self.keys.append(key.decode(errors="replace") if key is not None else None)
        self.headers.append(headers)

    def table(self, topic: str, topic_id: str | None) -> pa.Table:
        count = len(self.values)
        types = {c.name: c.arrow_type for c in METADATA_COLUMNS}
        columns = [column for column, _ in HEADER_COLUMNS.values()]
        by_column = list(zip(*self.headers, strict=True)) if count else [()] * len(columns)
        return pa.table(
            {
                VALUE: pa.array(self.values, pa.string()),
                "_topic": pa.repeat(pa.scalar(topic, pa.string()), count),
                "_topic_id": pa.repeat(pa.scalar(topic_id, pa.string()), count),
                "_partition": pa.array(self.partitions, pa.int32()),
                "_offset": pa.array(self.offsets, pa.int64()),
                "_key": pa.array(self.keys, pa.string()),
                **{c: pa.array(v, types[c]) for c, v in zip(columns, by_column, strict=True)},
            }
        )


@dataclass(slots=True)
class _Batch:
    """A batch on its way: its rows being written, its letters and offsets not yet committed."""

    ack: Ack
    table: pa.Table
    slow: int
    written: Future[_Written] | None = None
    lettered_rows: bool = False  # the letters of its untypable rows are in `ack.letters`

    def ranges(self) -> list[OffsetRange]:
        """The offset ranges the batch was read from: the rows its write replaces."""
        return [
            (topic, self.ack.topic_ids.get(topic), partition, first, last)
            for (topic, partition), (first, last) in self.ack.ranges.items()
        ]


class _Written(NamedTuple):
    """What writing a batch did."""

    failed: list[tuple[int, int, str]]  # rows DuckDB could not type: partition, offset, error
    rows: int  # rows of the partitions still held, written now or before
    latency: pa.Array  # produce-to-row seconds of the rows written
    seconds: float
    rows_total: int | None  # rows of the table after the write, when a follower reports them


@dataclass(slots=True)
class _Replacement:
    """The rows of a range read again, kept until the range is replaced in one commit."""

    rows: list[pa.Table] = field(default_factory=list)
    ranges: dict[tuple[str, str | None, int], tuple[int, int]] = field(default_factory=dict)

    def add(self, rows: pa.Table, ranges: list[OffsetRange]) -> pa.Table:
        self.rows.append(rows)
        for topic, topic_id, partition, first, last in ranges:
            known = self.ranges.get((topic, topic_id, partition))
            self.ranges[(topic, topic_id, partition)] = (
                (first, last) if known is None else (min(known[0], first), max(known[1], last))
            )
        return rows

    def commit(self, warehouse: Warehouse, spec: StreamSpec) -> None:
        if self.ranges:
            ranges = [(*where, first, last) for where, (first, last) in self.ranges.items()]
            warehouse.commit_raw(spec, pa.concat_tables(self.rows), ranges, replace=True)


class KafkaExtractor:
    """Drains a stream's backlog, as of the start of the run, into the warehouse."""

    def __init__(
        self,
        spec: StreamSpec,
        etl: ETLConfig | None = None,
        *,
        group_id: str | None = None,
        on_step: Step | None = None,
    ) -> None:
        self.spec = spec
        self.etl = etl if etl is not None else ETLConfig()
        self.group_id = group_id or spec.group_id
        self.on_step = on_step  # told "rows", "letters", "offsets" as each batch reaches them
        self.warehouse = Warehouse(self.etl.warehouse)
        self._headers = HeaderParser()
        self._replacing: _Replacement | None = None  # a range read again: one commit at the end
        self._counting = False  # each write counts the table's rows (for a follower's reports)

    def _lag(self) -> dict[int, tuple[int, int]]:
        """partition -> (lag, end offset) for this group on the stream's topic."""
        config = self.etl.kafka
        lags = group_lag(config, {self.group_id: [config.topic_name(self.spec.topic)]})
        return {p.partition: (p.lag, p.end) for p in lags}

    def run(
        self, start: dict[int, int] | None = None, end: dict[int, int] | None = None
    ) -> ExtractResult:
        """Extract to the warehouse; every batch is written, then its offsets committed. By
        default the group's backlog up to the end offsets seen now; with `start` and `end`
        (partition -> offset) exactly that range, read without joining the group, its rows
        replacing the range's in one commit at the end (reprocessing)."""
        started = time.monotonic()
        result = ExtractResult(self.spec.name, raw_table(self.spec))
        if start is None:
            before = self._lag()
            result.lag_before = sum(lag for lag, _ in before.values())
            result.targets = {p: end for p, (lag, end) in before.items() if lag > 0}
        else:
            ends = end or {}
            result.targets = {p: ends[p] for p in start if p in ends and start[p] < ends[p]}
            result.lag_before = sum(result.targets[p] - start[p] for p in result.targets)
        span = None if start is None else ({p: start[p] for p in result.targets}, result.targets)
        self.warehouse.ensure_raw_table(self.spec)
        if result.targets:
            self._replacing = None if span is None else _Replacement()
            try:
                self._extract(result, None, span=span)
                if self._replacing is not None:
                    self._replacing.commit(self.warehouse, self.spec)
            finally:
                self._replacing = None
        result.rows_total = self.warehouse.count(result.table)
        if result.rows_written:
            result.latency_s = result.latency()
        if start is None:
            result.lag_after = sum(lag for lag, _ in self._lag().values())
        result.duration_s = time.monotonic() - started
        return result

    def follow(
        self, stop: threading.Event, on_write: Callable[[ExtractResult], None] | None = None
    ) -> ExtractResult:
        """Streaming mode: write batches as they arrive until `stop` is set. The same exactly-once
        write and commit-after-write; the table must exist (`Warehouse.ensure_raw_table`)."""
        result = ExtractResult(self.spec.name, raw_table(self.spec))
        failures = 0
        while not stop.is_set():
            batches = result.batches
            try:
                self._extract(result, stop, on_write)
            except WarehouseSchemaError:  # no retry can fix it
                raise
            except Exception as exc:  # an outage: start again from the committed offsets
                failures = 1 if result.batches > batches else failures + 1
                pause = min(_RETRY_PAUSE_S * 2**failures, _FOLLOW_PAUSE_MAX_S)
                log.warning(
                    "following %s failed (%s: %s); starting again from the committed offsets "
                    "in %.0f s",
                    self.spec.name,
                    type(exc).__name__,
                    exc,
                    pause,
                )
                stop.wait(pause)
        return result

    def _extract(
        self,
        result: ExtractResult,
        stop: threading.Event | None,
        on_write: Callable[[ExtractResult], None] | None = None,
        span: tuple[dict[int, int], dict[int, int]] | None = None,
    ) -> None:
        """Fetch and judge batch n+1 while batch n is written; then commit batch n. With `span`
        (first and end offset per partition), exactly that range."""
        started = time.monotonic()
        topic = self.etl.kafka.topic_name(self.spec.topic)
        first, last = span or (None, None)
        self._counting = on_write is not None
        consumer: BaseKafkaConsumer[Any] = BaseKafkaConsumer(
            self.etl.kafka,
            self.group_id,
            stream=self.spec,
            start=None if first is None else {(topic, p): o for p, o in first.items()},
            until=None if last is None else {(topic, p): o for p, o in last.items()},
            resume=self._resume,
        )
        read, idle_since = 0, time.monotonic()
        inflight: _Batch | None = None
        with consumer, ThreadPoolExecutor(1, thread_name_prefix=f"write-{self.spec.name}") as pool:

            def settle(batch: _Batch) -> None:
                self._settle(consumer, batch, result)
                result.duration_s = time.monotonic() - started
                if on_write is not None:
                    on_write(result)
                report(
                    Progress(
                        self.spec.name,
                        read,
                        result.lag_before or None,
                        result.rows_written,
                        result.dead_lettered,
                    )
                )

            while not self._done(consumer, topic, result, read, stop):
                limit = self.etl.batch_size
                if stop is None:
                    limit = min(limit, self.etl.max_records - read)
                rows = _Rows(self.spec.model, self._headers)
                with paused_gc():
                    linger = 0.0 if stop is None else self.etl.flush_interval
                    ack = consumer.take(limit, 0.5, rows.accept, linger, stop)
                    table = rows.table(topic, ack.topic_ids.get(topic))
                batch = _Batch(ack, table, rows.slow)
                del rows
                if inflight is not None:
                    settle(inflight)
                    inflight = None
                if not ack:
                    if stop is None and time.monotonic() - idle_since > self.etl.idle_timeout:
                        break
                    continue
                idle_since = time.monotonic()
                read += ack.accepted + len(ack.letters)
                batch.written = pool.submit(self._write, consumer, batch, stop)
                inflight = batch
            if inflight is not None:
                settle(inflight)
            if stop is None:
                result.caught_up = self._caught_up(consumer, topic, result)

    def _settle(
        self, consumer: BaseKafkaConsumer[Any], batch: _Batch, result: ExtractResult
    ) -> None:
        """Once the batch's letters and rows are durable: its offsets."""
        assert batch.written is not None
        written = batch.written.result()  # raises: no offset of the batch is committed
        consumer.commit_offsets(batch.ack)
        self._step("offsets")
        result.latencies = [*result.latencies[-_LATENCY_BATCHES:], written.latency]
        if written.rows_total is not None:
            result.rows_total = written.rows_total
        result.rows_written += written.rows
        result.dead_lettered += len(batch.ack.letters)
        result.batches += 1
        result.slow_path += batch.slow
        result.write_costs.append((batch.table.num_rows, written.seconds))
        result.note(batch.ack)

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    def _resume(self, topic: str, topic_id: str | None, partitions: list[int]) -> dict[int, int]:
        """Where the table says each partition goes on: after the last offset it records."""
        recorded = self.warehouse.recorded(self.spec, topic, topic_id, partitions)
        return {partition: last + 1 for partition, last in recorded.items()}

    def _write(
        self, consumer: BaseKafkaConsumer[Any], batch: _Batch, stop: threading.Event | None
    ) -> _Written:
        """The batch's dead letters (rows DuckDB cannot type among them), then its rows in one
        Delta commit over the offset ranges it was read from. A store error is retried (both
        steps are idempotent), so a follower survives it."""
        attempt = 1
        while True:
            try:
                started = time.perf_counter()
                rows, failed = self._typed(batch)
                if failed and not batch.lettered_rows:
                    batch.ack.letters += self._row_letters(failed, batch)
                    batch.lettered_rows = True
                # Letters, rows and offsets of the same partitions: one lost meanwhile is its
                # new owner's, which reads it again after what the table records.
                held = consumer.assignment()
                batch.ack.drop(set(batch.ack.ranges) - held)
                consumer.write_letters(batch.ack, held)
                self._step("letters")
                ranges = batch.ranges()
                rows = _held(rows, ranges)
                if self._replacing is not None:
                    written = self._replacing.add(rows, ranges)
                else:
                    written = self.warehouse.commit_raw(self.spec, rows, ranges)
                self._step("rows")
                micros = pc.cast(
                    pc.subtract(written["_ingested_at"], written["_produced_at"]), pa.int64()
                )  # a hostile produced_at header can be centuries off: no exact double
                latency = pc.divide(pc.cast(micros, pa.float64(), safe=False), 1e6)
                seconds = time.perf_counter() - started
                total = self.warehouse.count(raw_table(self.spec)) if self._counting else None
                return _Written(failed, rows.num_rows, latency, seconds, total)
            except _TRANSIENT as exc:
                if attempt == _WRITE_ATTEMPTS or (stop is not None and stop.is_set()):
                    raise
                log.warning(
                    "writing %d rows of %s failed (attempt %d of %d), retrying: %s",
                    batch.table.num_rows,
                    self.spec.name,
                    attempt,
                    _WRITE_ATTEMPTS,
                    type(exc).__name__,
                )
                time.sleep(_RETRY_PAUSE_S * attempt)
                attempt += 1

    def _typed(self, batch: _Batch) -> tuple[pa.Table, list[tuple[int, int, str]]]:
        """The batch to write, and the rows DuckDB cannot type (none, nearly always): the models
        accepted them, so a failure to type the whole batch names those rows, or is the
        warehouse's own fault and raises."""
        try:
            return self.warehouse.typed(self.spec, batch.table), []
        except _ROW_ERRORS as exc:
            if VALUE not in batch.table.column_names:
                raise
            failed = self.warehouse.untypable(self.spec, batch.table)
            if not failed:
                raise
            rows = self.warehouse.typed(self.spec, batch.table, typable_only=True)
            return rows, [(p, o, type(exc).__name__) for p, o in failed]

    def _row_letters(self, failed: list[tuple[int, int, str]], batch: _Batch) -> list[Letter]:
        """Letters for rows the warehouse refused, with the records read again from Kafka (rare:
        the gate and pydantic accepted them), so no batch keeps its messages in memory."""
        topic = self.etl.kafka.topic_name(self.spec.topic)
        records = _read_records(self.etl.kafka, topic, {(p, o) for p, o, _ in failed})
        return [
            Letter(
                records.get((partition, offset))
                or Rejected(topic, partition, offset, None, None, []),
                "WarehouseError",
                f"the warehouse could not store the event ({error})",
                topic_id=batch.ack.topic_ids.get(topic),
            )
            for partition, offset, error in failed
        ]

    def _done(
        self,
        consumer: BaseKafkaConsumer[Any],
        topic: str,
        result: ExtractResult,
        read: int,
        stop: threading.Event | None,
    ) -> bool:
        if stop is not None:
            return stop.is_set()
        return read >= self.etl.max_records or self._caught_up(consumer, topic, result)

    @staticmethod
    def _caught_up(consumer: BaseKafkaConsumer[Any], topic: str, result: ExtractResult) -> bool:
        """Every partition this member holds has reached the end offset seen at the start."""
        held = [partition for (name, partition) in consumer.assignment() if name == topic]
        if not held:
            return False
        return all(
            consumer.positions.get((topic, p), -1) >= result.targets[p]
            for p in held
            if p in result.targets
        )


def _held(rows: pa.Table, ranges: list[OffsetRange]) -> pa.Table:
    """The rows of the partitions of `ranges`."""
    partitions = pa.array(sorted({partition for _, _, partition, _, _ in ranges}), pa.int32())
    return rows.filter(pc.is_in(rows["_partition"], value_set=partitions))


def _read_records(
    config: KafkaConfig, topic: str, positions: set[tuple[int, int]], timeout: float = 30.0
) -> dict[tuple[int, int], Rejected]:
    """The records at these (partition, offset) positions, read without a group."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for partition, offset in positions:
        first[partition] = min(first.get(partition, offset), offset)
        last[partition] = max(last.get(partition, offset), offset)
    reader = Consumer(with_logging(config.consumer_config() | {"group.id": "ownlens-reread"}))
    found: dict[tuple[int, int], Rejected] = {}
    try:
        reader.assign([TopicPartition(topic, p, o) for p, o in first.items()])
        deadline = time.monotonic() + timeout
        while last and time.monotonic() < deadline:
            for message in reader.consume(1_000, 0.5):
                if message.error() is not None:
                    continue
                partition, offset = cast(int, message.partition()), cast(int, message.offset())
                if (partition, offset) in positions:
                    found[(partition, offset)] = Rejected.from_message(message)
                if offset >= last.get(partition, offset + 1):
                    last.pop(partition, None)
        return found
    finally:
        reader.close()
