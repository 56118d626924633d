"""The warehouse: Delta Lake tables under one root, `<root>/raw/<stream>` and
`<root>/<domain>/<name>`, written exactly once per Kafka offset and read through DuckDB.

Each raw write is one Delta commit carrying one app transaction per (topic, topic id, partition)
whose version is the last offset the batch read there: the table itself records what was written,
so a batch at or below that version is never written twice, whoever writes it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from pydantic import Field

from ownlens_kafka.streams import STREAMS, StreamSpec, get_stream
from ownlens_pipelines.json_rows import SESSION_SETTINGS, VALUE, typable, typed_select
from ownlens_pipelines.schema import INGESTED_AT, Column, table_columns
from ownlens_pipelines.settings import DEFAULT_WAREHOUSE

RAW_SCHEMA = "raw"
_BATCH = "ownlens_batch"
_COMMIT_ATTEMPTS = 10  # commits racing on one app id: each retry reads the winner's versions
TABLE_CONFIGURATION = {
    "delta.enableChangeDataFeed": "true",  # domain refreshes read only what changed
    "delta.checkpointInterval": "100",
}
# the session DuckDB gets: UTC days, and a bound on what one query holds in memory
READER_SETTINGS = f"{SESSION_SETTINGS}; SET memory_limit = '1GB'"

OffsetRange = tuple[str, str | None, int, int, int]  # topic, topic id, partition, first, last


class WarehouseSchemaError(RuntimeError):
    """A raw table no longer matches its stream's model."""


def raw_table(spec: StreamSpec) -> str:
    return f"{RAW_SCHEMA}.{spec.name}"


def app_id(topic: str, topic_id: str | None, partition: int) -> str:
    """The app transaction recording how far a topic partition (of one incarnation) is written."""
    return f"kafka:{topic}:{topic_id or '-'}:{partition}"


_TEXT = ("uuid", "json")  # Delta has no UUID or JSON type: both are stored as their text


def _delta_type(column: Column) -> pa.DataType:
    return pa.string() if column.kind in _TEXT else column.arrow_type


@cache
def raw_schema(spec: StreamSpec) -> pa.Schema:
    """The Arrow schema of the stream's Delta table."""
    return pa.schema([pa.field(c.name, _delta_type(c)) for c in table_columns(spec.model)])


@cache
def _typing_sql(spec: StreamSpec, *, typed: bool, typable_only: bool) -> str:
    """SELECT over the batch giving exactly the table's columns, stamped `_ingested_at`."""
    source = (
        f"SELECT * FROM {_BATCH}"
        if typed
        else typed_select(spec.model, _BATCH, typable_only=typable_only)
    )
    columns = [
        f'CAST("{c.name}" AS VARCHAR) AS "{c.name}"'
        if c.kind in ("uuid", "json")
        else f'"{c.name}"'
        for c in table_columns(spec.model)
        if c.name != INGESTED_AT.name
    ]
    return f"SELECT {', '.join(columns)}, now() AS {INGESTED_AT.name} FROM ({source})"


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


def _literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _range_predicate(ranges: Sequence[OffsetRange]) -> str:
    """Rows of these offset ranges, in the SQL both DuckDB and delta-rs read."""
    return " OR ".join(
        f"(_topic = {_literal(topic)} AND "
        + ("_topic_id IS NULL" if topic_id is None else f"_topic_id = {_literal(topic_id)}")
        + f" AND _partition = {int(partition)} AND _offset >= {int(first)} "
        f"AND _offset <= {int(last)})"
        for topic, topic_id, partition, first, last in ranges
    )


@dataclass(frozen=True, slots=True)
class TableStats:
    """What a Delta table holds at one version."""

    version: int
    files: int
    bytes: int
    rows: int

    def metadata(self) -> dict[str, int]:
        return {
            "delta_version": self.version,
            "files": self.files,
            "bytes": self.bytes,
            "dagster/row_count": self.rows,
        }


def table_stats(table: DeltaTable) -> TableStats:
    actions = pa.table(table.get_add_actions(flatten=True))
    return TableStats(
        table.version(),
        actions.num_rows,
        int(pc.sum(actions["size_bytes"]).as_py() or 0),
        int(pc.sum(actions["num_records"]).as_py() or 0),
    )


class Warehouse:
    """The Delta tables under a warehouse root (a directory, or an s3://, gs://, az:// URI whose
    credentials come from the cloud's usual environment variables)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self._local = threading.local()  # one in-memory DuckDB per thread, for typing batches
        self._tables: dict[str, DeltaTable] = {}

    # tables

    def uri(self, table: str) -> str:
        """Where `schema.name` lives: `<root>/<schema>/<name>`."""
        schema, name = table.split(".", 1)
        return f"{self.root}/{schema}/{name}"

    def table(self, name: str) -> DeltaTable | None:
        """The table's newest snapshot, or None while it does not exist."""
        loaded = self._tables.get(name)
        try:
            if loaded is None:
                loaded = self._tables[name] = DeltaTable(self.uri(name))
            else:
                loaded.update_incremental()
        except TableNotFoundError:
            return None
        return loaded

    def ensure_raw_table(self, spec: StreamSpec) -> DeltaTable:
        """The stream's table, with any column a newer model (or this version) added; a column
        whose type the model changed is an error naming it (rows would no longer fit)."""
        name, schema = raw_table(spec), raw_schema(spec)
        table = self.table(name)
        if table is None:
            with contextlib.suppress(Exception):  # another writer created it meanwhile
                DeltaTable.create(
                    self.uri(name), schema=schema, mode="ignore", configuration=TABLE_CONFIGURATION
                )
            table = self.table(name)
            if table is None:
                raise WarehouseSchemaError(f"could not create {name} at {self.uri(name)}")
        existing = {f.name: f.type for f in pa.schema(table.schema().to_arrow())}
        added = [field for field in schema if field.name not in existing]
        for field in schema:
            found = existing.get(field.name)
            if found is not None and found != field.type:
                raise WarehouseSchemaError(
                    f"{name}.{field.name} is {found} in the warehouse but {field.type} in "
                    f"{spec.model.__name__}: migrate the table, or reprocess the stream into a "
                    "new warehouse"
                )
        if added:
            from deltalake.schema import Field as DeltaField

            with contextlib.suppress(Exception):  # another writer added them meanwhile
                table.alter.add_columns([DeltaField.from_arrow(f) for f in added])
            table.update_incremental()
        return table

    def recorded(
        self, spec: StreamSpec, topic: str, topic_id: str | None, partitions: Iterable[int]
    ) -> dict[int, int]:
        """partition -> the last offset the stream's table holds of this topic incarnation."""
        table = self.table(raw_table(spec))
        if table is None:
            return {}
        found = {p: table.transaction_version(app_id(topic, topic_id, p)) for p in partitions}
        return {p: int(v) for p, v in found.items() if v is not None}

    # writing

    def _duckdb(self) -> duckdb.DuckDBPyConnection:
        connection: duckdb.DuckDBPyConnection | None = getattr(self._local, "duckdb", None)
        if connection is None:
            connection = duckdb.connect(config={"memory_limit": "256MB", "threads": 1})
            connection.execute(SESSION_SETTINGS)
            self._local.duckdb = connection
        return connection

    def typed(self, spec: StreamSpec, batch: pa.Table, *, typable_only: bool = False) -> pa.Table:
        """The batch as rows of the stream's table. `batch` holds either typed columns
        (`schema.events_table`) or each event's canonical JSON in `_value` (typed here, by DuckDB
        in memory) next to the `_*` Kafka columns; `typable_only` leaves out the JSON values
        DuckDB cannot type."""
        sql = _typing_sql(spec, typed=VALUE not in batch.column_names, typable_only=typable_only)
        connection = self._duckdb()
        connection.register(_BATCH, batch)
        try:
            return connection.sql(sql).to_arrow_table().cast(raw_schema(spec))
        finally:
            connection.unregister(_BATCH)

    def untypable(self, spec: StreamSpec, batch: pa.Table) -> list[tuple[int, int]]:
        """(partition, offset) of the rows of a JSON batch that DuckDB cannot type."""
        connection = self._duckdb()
        connection.register(_BATCH, batch)
        try:
            rows = connection.execute(
                f"SELECT _partition, _offset FROM {_BATCH} WHERE NOT ({typable(spec.model)})"
            ).fetchall()
        finally:
            connection.unregister(_BATCH)
        return [(int(partition), int(offset)) for partition, offset in rows]

    def write_raw(
        self,
        spec: StreamSpec,
        batch: pa.Table,
        ranges: Sequence[OffsetRange] | None = None,
        *,
        typable_only: bool = False,
        replace: bool = False,
    ) -> pa.Table:
        """Append the batch's rows in one commit that records, per partition, the last offset of
        the range it was read from (default: its rows' own). Rows at or below the offset the table
        already records are left out, so a batch written again (after a crash, by a second
        writer) adds nothing; two writers racing on a partition are told apart by Delta's
        conflict check, and the loser tries again on the winner's snapshot. With `replace`, the
        ranges' rows are replaced instead, in one commit (reprocessing). Returns the rows
        written."""
        ranges = list(ranges) if ranges is not None else _offset_ranges(batch)
        return self.commit_raw(
            spec, self.typed(spec, batch, typable_only=typable_only), ranges, replace=replace
        )

    def commit_raw(
        self,
        spec: StreamSpec,
        rows: pa.Table,
        ranges: Sequence[OffsetRange],
        *,
        replace: bool = False,
    ) -> pa.Table:
        """`write_raw` for rows already `typed`."""
        if not ranges:
            return rows.slice(0, 0)
        name = raw_table(spec)
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            table = self.table(name) or self.ensure_raw_table(spec)
            if replace:
                write_deltalake(table, rows, mode="overwrite", predicate=_range_predicate(ranges))
                return rows
            fresh, versions = _unwritten(rows, ranges, table)
            if not versions:
                return fresh
            try:
                write_deltalake(
                    table,
                    fresh,
                    mode="append",
                    commit_properties=CommitProperties(
                        app_transactions=[Transaction(a, v) for a, v in versions.items()]
                    ),
                )
                return fresh
            except CommitFailedError:  # another writer committed one of these partitions
                if attempt == _COMMIT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def count(self, name: str) -> int:
        """Rows of a table at its newest version (0 while it does not exist)."""
        table = self.table(name)
        return 0 if table is None else table_stats(table).rows

    # reading

    def tables(self) -> list[str]:
        """`schema.name` of every Delta table under the root."""
        filesystem, root = pafs.FileSystem.from_uri(self.root)
        found = []
        for schema in _children(filesystem, root):
            for table in _children(filesystem, schema.path):
                log = filesystem.get_file_info(f"{table.path}/_delta_log")
                if log.type == pafs.FileType.Directory:
                    found.append(f"{schema.base_name}.{table.base_name}")
        return sorted(found)

    @contextlib.contextmanager
    def connect(self, tables: Iterable[str] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """`session`, closed on leaving."""
        connection = self.session(tables)
        try:
            yield connection
        finally:
            connection.close()

    def session(self, tables: Iterable[str] | None = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB session with a view per table (default: every table under the
        root, and every stream's raw table) over its current snapshot; a raw table not written
        yet reads as empty. Nothing is locked: writers go on, each view keeps its snapshot."""
        connection = duckdb.connect()
        try:
            connection.execute(READER_SETTINGS)
            names = [*self.tables(), *map(raw_table, STREAMS)] if tables is None else tables
            for name in sorted(set(names)):
                table = self.table(name)
                if table is not None:
                    self.view(connection, name, table)
                elif name.startswith(f"{RAW_SCHEMA}."):
                    spec = get_stream(name.removeprefix(f"{RAW_SCHEMA}."))
                    empty_view(connection, name, raw_schema(spec))
        except BaseException:
            connection.close()
            raise
        return connection

    def view(
        self,
        connection: duckdb.DuckDBPyConnection,
        name: str,
        table: DeltaTable,
        view: str | None = None,
    ) -> None:
        """Define view `view` (default: `name`) over the table's snapshot `table`."""
        schema = pa.schema(table.schema().to_arrow())
        files = table.file_uris()
        target = view or name
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {target.split('.', 1)[0]}")
        if not files:
            empty_view(connection, target, schema)
        elif "://" not in self.root or self.root.startswith("file://"):
            # DuckDB's own Parquet reader: row groups pruned by their statistics, no Python
            listed = ", ".join(_literal(path.removeprefix("file://")) for path in files)
            connection.execute(
                f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM "
                f"read_parquet([{listed}], union_by_name = true)"
            )
        else:  # object storage: Arrow's native filesystem for it
            filesystem, _ = pafs.FileSystem.from_uri(self.root)
            paths = [pafs.FileSystem.from_uri(uri)[1] for uri in files]
            dataset = pads.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)
            source = "__" + target.replace(".", "__")
            connection.register(source, dataset)
            connection.execute(f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM {source}")


def _children(filesystem: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [
        info
        for info in infos
        if info.type == pafs.FileType.Directory and not info.base_name.startswith(("_", "."))
    ]


def empty_view(connection: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    """View `name`: no rows, the columns of `schema`."""
    source = "__empty__" + name.replace(".", "__")
    connection.register(source, schema.empty_table())
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {name.split('.', 1)[0]}")
    connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")


def _unwritten(
    rows: pa.Table, ranges: Sequence[OffsetRange], table: DeltaTable
) -> tuple[pa.Table, dict[str, int]]:
    """The rows past each partition's recorded offset, and the versions the commit records."""
    keep = None
    versions: dict[str, int] = {}
    for topic, topic_id, partition, _, last in ranges:
        app = app_id(topic, topic_id, partition)
        seen = table.transaction_version(app)
        done = -1 if seen is None else int(seen)
        if last <= done:
            continue
        versions[app] = last
        here = pc.and_(
            pc.equal(rows["_partition"], partition),
            pc.greater(rows["_offset"], done),
        )
        here = pc.and_(here, pc.equal(rows["_topic"], topic))
        keep = here if keep is None else pc.or_(keep, here)
    if keep is None:
        return rows.slice(0, 0), versions
    return rows.filter(keep), versions


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The warehouse root: Delta tables `raw/<stream>` and `<domain>/<name>`."""

    root: str = Field(
        default=DEFAULT_WAREHOUSE,
        description="Directory or s3://, gs://, az:// URI holding the Delta tables.",
    )

    def warehouse(self) -> Warehouse:
        return Warehouse(self.root)
