"""KafkaExtractor: a stream's consumer group, from its committed offsets to the end offsets seen at
the start, into the warehouse table `raw.<stream>`; offsets committed only after the write."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from ownlens_kafka.consumer import BaseKafkaConsumer
from ownlens_kafka.gcpause import paused_gc
from ownlens_kafka.lag import group_lag
from ownlens_kafka.streams import StreamSpec
from ownlens_kafka.topics import topic_id
from ownlens_pipelines.schema import events_table
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import Warehouse, raw_table

log = logging.getLogger(__name__)
_WRITE_ATTEMPTS = 3
_RETRY_PAUSE_S = 0.5


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

    def metadata(self) -> dict[str, Any]:
        """Figures for Dagster metadata (the UI plots the numeric ones)."""
        per_second = self.rows_written / self.duration_s if self.duration_s else 0.0
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
            "offsets": {str(p): list(r) for p, r in sorted(self.offsets.items())},
            "end_offsets_at_start": {str(p): e for p, e in sorted(self.targets.items())},
        }

    def note_offsets(self, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        partitions = batch.column("_partition").to_pylist()
        offsets = batch.column("_offset").to_pylist()
        for partition, offset in zip(partitions, offsets, strict=True):
            first, last = self.offsets.get(partition, (offset, offset))
            self.offsets[partition] = (min(first, offset), max(last, offset))


class KafkaExtractor:
    """Drains a stream's backlog, as of the start of the run, into the warehouse."""

    def __init__(
        self,
        spec: StreamSpec,
        etl: ETLConfig | None = None,
        *,
        group_id: str | None = None,
        after_write: Callable[[pa.Table], None] | None = None,
    ) -> None:
        self.spec = spec
        self.etl = etl if etl is not None else ETLConfig()
        self.group_id = group_id or spec.group_id
        self.after_write = after_write
        self.warehouse = Warehouse(self.etl.warehouse)

    def _lag(self) -> dict[int, tuple[int, int]]:
        """partition -> (lag, end offset) for this group on the stream's topic."""
        config = self.etl.kafka
        lags = group_lag(config, {self.group_id: [config.topic_name(self.spec.topic)]})
        return {p.partition: (p.lag, p.end) for p in lags}

    def run(self) -> ExtractResult:
        """Extract to the warehouse; every batch is written, then its offsets committed."""
        started = time.monotonic()
        result = ExtractResult(self.spec.name, raw_table(self.spec))
        before = self._lag()
        result.lag_before = sum(lag for lag, _ in before.values())
        result.targets = {p: end for p, (lag, end) in before.items() if lag > 0}
        with self.warehouse.connect() as connection:
            self.warehouse.ensure_raw_table(connection, self.spec)
            if result.targets:
                for batch in self.batches(result):
                    result.rows_written += self.warehouse.write_raw(connection, self.spec, batch)
                    result.note_offsets(batch)
                    if self.after_write is not None:
                        self.after_write(batch)
            result.rows_total = self.warehouse.count(connection, result.table)
        result.lag_after = sum(lag for lag, _ in self._lag().values())
        result.duration_s = time.monotonic() - started
        return result

    def follow(
        self, stop: threading.Event, on_write: Callable[[ExtractResult], None] | None = None
    ) -> ExtractResult:
        """Streaming mode: write batches as they arrive until `stop` is set. The same idempotent
        write and commit-after-write; the warehouse is held only while a batch is written, and
        its table must exist (`Warehouse.ensure_raw_table`)."""
        result = ExtractResult(self.spec.name, raw_table(self.spec))
        started = time.monotonic()
        for batch in self.batches(result, stop=stop):
            result.rows_written += self._write_retrying(batch, result, stop)
            result.note_offsets(batch)
            result.duration_s = time.monotonic() - started
            if on_write is not None:
                on_write(result)
        return result

    def _write_retrying(self, batch: pa.Table, result: ExtractResult, stop: threading.Event) -> int:
        """Write a batch on a fresh connection; a write that failed on a catalog or transaction
        error is retried (the write is idempotent), so a long-running follower survives it."""
        attempt = 1
        while True:
            try:
                with self.warehouse.connect() as connection:
                    written = self.warehouse.write_raw(connection, self.spec, batch)
                    result.rows_total = self.warehouse.count(connection, result.table)
                return written
            except (duckdb.CatalogException, duckdb.TransactionException) as exc:
                if attempt == _WRITE_ATTEMPTS or stop.is_set():
                    raise
                log.warning(
                    "writing %d rows of %s failed (attempt %d of %d), retrying: %s",
                    batch.num_rows,
                    self.spec.name,
                    attempt,
                    _WRITE_ATTEMPTS,
                    exc,
                )
                stop.wait(_RETRY_PAUSE_S * attempt)
                attempt += 1

    def batches(
        self, result: ExtractResult, stop: threading.Event | None = None
    ) -> Iterator[pa.Table]:
        """Validated batches up to the targets (or, with `stop`, until it is set); a batch's
        offsets are committed when the caller asks for the next one, never before."""
        consumer: BaseKafkaConsumer[Any] = BaseKafkaConsumer(
            self.etl.kafka, self.group_id, stream=self.spec
        )
        with consumer:
            topic = consumer.topics[0]
            incarnation = topic_id(self.etl.kafka, topic)
            read, idle_since = 0, time.monotonic()
            while not self._done(consumer, topic, result, read, stop):
                dead_before = consumer.stats.dead_lettered
                limit = (
                    self.etl.batch_size
                    if stop
                    else min(self.etl.batch_size, self.etl.max_records - read)
                )
                with paused_gc():
                    items = consumer.consume_batch(limit, 0.5)
                    batch = events_table(self.spec.model, items, incarnation)
                dead = consumer.stats.dead_lettered - dead_before
                if not items and not dead:
                    if stop is None and time.monotonic() - idle_since > self.etl.idle_timeout:
                        break
                    continue
                idle_since = time.monotonic()
                read += len(items) + dead
                result.dead_lettered += dead
                result.batches += 1
                if items:
                    yield batch
                consumer.commit()
            if stop is None:
                result.caught_up = self._caught_up(consumer, topic, result)

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
