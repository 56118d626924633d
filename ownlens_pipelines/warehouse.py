"""The DuckDB warehouse: raw tables per stream, written idempotently by Kafka position."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.schema import table_columns

RAW_SCHEMA = "raw"

# DuckDB shares one database instance between a process's connections to a file, and registers
# its Python scans (`python_arrow_scan`) on that instance after creating it: a thread connecting
# meanwhile gets an instance without them ("Table Function ... does not exist", seen in CI when
# `ownlens stream` wrote while another thread read). Opening one at a time avoids it; closing is
# serialized too, since the last close tears the shared instance down while another may open it.
_OPENING = threading.Lock()


def raw_table(spec: StreamSpec) -> str:
    return f"{RAW_SCHEMA}.{spec.name}"


class Warehouse:
    """A DuckDB file. One process at a time may write it, so connecting waits for the lock."""

    def __init__(
        self, path: str | Path, lock_timeout: float = 120.0, memory_limit: str = "128MB"
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.memory_limit = memory_limit

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, retried while another process holds the file's write lock."""
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                with _OPENING:
                    connection = duckdb.connect(
                        str(self.path),
                        read_only=read_only,
                        config={"memory_limit": self.memory_limit},
                    )
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            yield connection
        finally:
            with _OPENING:
                connection.close()

    def ensure_raw_table(self, connection: duckdb.DuckDBPyConnection, spec: StreamSpec) -> None:
        columns = ", ".join(f'"{c.name}" {c.sql_type}' for c in table_columns(spec.model))
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        connection.execute(f"CREATE TABLE IF NOT EXISTS {raw_table(spec)} ({columns})")

    def write_raw(
        self, connection: duckdb.DuckDBPyConnection, spec: StreamSpec, batch: pa.Table
    ) -> int:
        """Replace, per partition, the rows in the batch's offset range, in one transaction: a
        batch written again after a crash (before the commit) adds nothing, and rows outside
        the range (another member's), or of an earlier incarnation of the topic (deleted and
        created again: offsets from 0), are never touched."""
        if batch.num_rows == 0:
            return 0
        table = raw_table(spec)
        connection.register("ownlens_batch", batch)
        try:
            connection.execute("BEGIN TRANSACTION")
            ranges = connection.execute(
                "SELECT _topic, _topic_id, _partition, min(_offset), max(_offset) "
                "FROM ownlens_batch GROUP BY ALL"
            ).fetchall()
            for topic, topic_id, partition, first, last in ranges:
                connection.execute(
                    f"DELETE FROM {table} WHERE _topic = ? AND _topic_id IS NOT DISTINCT FROM ? "
                    "AND _partition = ? AND _offset BETWEEN ? AND ?",
                    [topic, topic_id, partition, first, last],
                )
            names = ", ".join(f'"{c.name}"' for c in table_columns(spec.model))
            connection.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM ownlens_batch")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        finally:
            connection.unregister("ownlens_batch")
        return int(batch.num_rows)

    def count(self, connection: duckdb.DuckDBPyConnection, table: str) -> int:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0
