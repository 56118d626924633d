"""The DuckDB warehouse: raw tables per stream, written idempotently by Kafka position."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from dagster_duckdb import DuckDBResource
from pydantic import Field

from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.json_rows import SESSION_SETTINGS, VALUE, typable, typed_select
from ownlens_pipelines.schema import INGESTED_AT, table_columns
from ownlens_pipelines.settings import DEFAULT_WAREHOUSE

RAW_SCHEMA = "raw"
CHECKPOINT_ROWS = 100_000
_BATCH = "ownlens_batch"

# DuckDB shares one database instance between a process's connections to a file, and registers
# its Python scans (`python_arrow_scan`) on that instance after creating it: a thread connecting
# meanwhile gets an instance without them ("Table Function ... does not exist", seen in CI when
# `ownlens stream` wrote while another thread read). Opening one at a time avoids it; closing is
# serialized too, since the last close tears the shared instance down while another may open it.
_OPENING = threading.Lock()


OffsetRange = tuple[str, str | None, int, int, int]  # topic, topic id, partition, first, last
# information_schema's names of the types the models map to
_SQL_TYPE_NAMES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "JSON": "JSON"}


class WarehouseSchemaError(RuntimeError):
    """A raw table no longer matches its stream's model."""


def _literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _offset_ranges(batch: pa.Table) -> list[OffsetRange]:
    """(topic, topic id, partition, first offset, last offset) of each partition in the batch."""
    grouped = batch.group_by(["_topic", "_topic_id", "_partition"], use_threads=False).aggregate(
        [("_offset", "min"), ("_offset", "max")]
    )
    return list(
        zip(
            *(
                grouped.column(name).to_pylist()
                for name in ("_topic", "_topic_id", "_partition", "_offset_min", "_offset_max")
            ),
            strict=True,
        )
    )


def raw_table(spec: StreamSpec) -> str:
    return f"{RAW_SCHEMA}.{spec.name}"


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file: dagster-duckdb's connections (retried while another process
    holds the file's write lock), opened one at a time in this process, in UTC."""

    database: str = Field(default=DEFAULT_WAREHOUSE, description="DuckDB file of the warehouse.")
    connection_config: dict[str, Any] = Field(
        default_factory=lambda: {
            # measured (bench/ingest.py): 128MB writes as fast as 256MB with 100 MB less RSS;
            # a larger query (a domain rebuild) spills to the file's temporary directory
            "memory_limit": "128MB",
            "checkpoint_threshold": "1GB",  # explicit checkpoints instead (Warehouse.checkpoint)
        },
        description="DuckDB settings of the connections.",
    )

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        opened = super().get_connection()
        with _OPENING:
            connection = opened.__enter__()
        try:
            connection.execute(SESSION_SETTINGS)
            yield connection
        finally:
            with _OPENING:
                opened.__exit__(None, None, None)

    def warehouse(self) -> Warehouse:
        return Warehouse(self)


class Warehouse:
    """The raw tables of a warehouse, written idempotently by Kafka position."""

    def __init__(
        self, where: str | Path | WarehouseResource, checkpoint_rows: int = CHECKPOINT_ROWS
    ) -> None:
        self.resource = (
            where
            if isinstance(where, WarehouseResource)
            else WarehouseResource(database=str(where))
        )
        self.checkpoint_rows = checkpoint_rows
        self._unsaved = 0  # rows written since the last checkpoint

    def connect(self) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A connection; it waits while another process writes the file."""
        return self.resource.get_connection()

    def ensure_raw_table(self, connection: duckdb.DuckDBPyConnection, spec: StreamSpec) -> None:
        """The stream's table, with any column a newer model (or this version) added; a column
        whose type the model changed is an error naming it (rows would no longer fit)."""
        table = raw_table(spec)
        columns = table_columns(spec.model)
        ddl = ", ".join(f'"{c.name}" {c.sql_type}' for c in columns)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        connection.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
        existing = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ?",
                [RAW_SCHEMA, spec.name],
            ).fetchall()
        )
        for column in columns:
            found = existing.get(column.name)
            if found is None:
                connection.execute(
                    f'ALTER TABLE {table} ADD COLUMN "{column.name}" {column.sql_type}'
                )
            elif _SQL_TYPE_NAMES.get(column.sql_type, column.sql_type) != found:
                raise WarehouseSchemaError(
                    f"{table}.{column.name} is {found} in the warehouse but "
                    f"{column.sql_type} in {spec.model.__name__}: migrate the table, or "
                    "reprocess the stream into a new warehouse"
                )

    def write_raw(
        self,
        connection: duckdb.DuckDBPyConnection,
        spec: StreamSpec,
        batch: pa.Table,
        ranges: Sequence[OffsetRange] | None = None,
        *,
        typable_only: bool = False,
    ) -> int:
        """Replace, per partition, the rows in an offset range with the batch's, in one
        transaction: a batch written again after a crash (before the commit) adds nothing, and
        rows outside the range (another member's), or of an earlier incarnation of the topic
        (deleted and created again: offsets from 0), are never touched. The range is the one the
        batch was read from (default: its rows' own), so a record now rejected loses its row.

        `batch` holds either typed columns (`schema.events_table`) or each event's canonical
        JSON in `_value` (typed here by DuckDB) next to the `_*` Kafka columns;
        `typable_only` leaves out the JSON values DuckDB cannot type."""
        if batch.num_rows == 0 and not ranges:
            return 0
        table = raw_table(spec)
        if VALUE in batch.column_names:
            source = typed_select(spec.model, _BATCH, typable_only=typable_only)
        else:
            source = f"SELECT * FROM {_BATCH}"
        replaced = " OR ".join(
            f"(_topic = {_literal(topic)} AND _topic_id IS NOT DISTINCT FROM {_literal(topic_id)} "
            f"AND _partition = {int(partition)} AND _offset BETWEEN {int(first)} AND {int(last)})"
            for topic, topic_id, partition, first, last in ranges or _offset_ranges(batch)
        )
        # one statement list, so the writer thread takes the GIL once, not once per statement
        script = (
            f"BEGIN TRANSACTION; DELETE FROM {table} WHERE {replaced}; "
            f"INSERT INTO {table} BY NAME SELECT *, now() AS {INGESTED_AT.name} FROM ({source}); "
            "COMMIT"
        )
        connection.register(_BATCH, batch)
        try:
            connection.execute(script)
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # the original error tells what happened
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.unregister(_BATCH)
        self._unsaved += batch.num_rows
        if self._unsaved >= self.checkpoint_rows:
            self.checkpoint(connection)
        return int(batch.num_rows)

    def untypable(
        self, connection: duckdb.DuckDBPyConnection, spec: StreamSpec, batch: pa.Table
    ) -> list[tuple[int, int]]:
        """(partition, offset) of the rows of a JSON batch that DuckDB cannot type."""
        connection.register(_BATCH, batch)
        try:
            rows = connection.execute(
                f"SELECT _partition, _offset FROM {_BATCH} WHERE NOT ({typable(spec.model)})"
            ).fetchall()
        finally:
            connection.unregister(_BATCH)
        return [(int(partition), int(offset)) for partition, offset in rows]

    def checkpoint(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Write the WAL into the file now: at a steady cadence, instead of DuckDB's own at every
        16 MiB of WAL, each costlier as the tables grow."""
        connection.execute("CHECKPOINT")
        self._unsaved = 0

    def count(self, connection: duckdb.DuckDBPyConnection, table: str) -> int:
        [(count,)] = connection.execute(f"SELECT count(*) FROM {table}").fetchall()
        return int(count)
