"""Domain tables kept current at the cost of what is new: a refresh reads the raw rows changed
since the raw versions the domain table records (Delta's change data feed), recomputes the groups
they touch and replaces those groups in one commit that records the raw versions it read.

A domain table's `grains` name the output columns a change can be localized by, each with the
expression giving it in each source (`day` is `event_date` in `raw.user_events`). A source row
changes the groups its grain values fall in; the groups are recomputed from every source row with
those values. An id is assumed to keep its grain values across its versions (an event keeps its
day): a later version moving an id to another day leaves the old day's group to the next full
rebuild.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError

from ownlens_kafka.streams import get_stream
from ownlens_pipelines.warehouse import (
    READER_SETTINGS,
    TABLE_CONFIGURATION,
    Warehouse,
    empty_view,
    raw_schema,
    raw_table,
    table_stats,
)

if TYPE_CHECKING:
    from ownlens_pipelines.assets.domain import DomainAssetSpec

_ATTEMPTS = 5  # refreshes racing on one table: the loser recomputes on the winner's snapshot
_FULL = "__full"


def source_app_id(raw: str) -> str:
    """The app transaction of a domain table recording the version of `raw` it was built from."""
    return f"source:{raw}"


@dataclass(slots=True)
class Refreshed:
    """What one refresh did."""

    table: str
    mode: str  # "incremental", "full" or "unchanged"
    changed_rows: int = 0  # raw rows read from the change data feed
    groups: dict[str, int] = field(default_factory=dict)  # touched values per grain
    sources: dict[str, int] = field(default_factory=dict)  # raw table -> version read
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        return {
            "refresh": self.mode,
            "changed_raw_rows": self.changed_rows,
            **{f"touched_{grain}": count for grain, count in self.groups.items()},
            "source_versions": {raw: v for raw, v in sorted(self.sources.items())},
            "refresh_s": round(self.seconds, 3),
        }


def sql_literal(value: Any) -> str:
    """A value as a literal both DuckDB and delta-rs (DataFusion) read as the column's type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _in(expression: str, values: Sequence[Any]) -> str:
    present = sorted({sql_literal(v) for v in values if v is not None})
    terms = [f"{expression} IN ({', '.join(present)})"] if present else []
    if any(v is None for v in values):
        terms.append(f"{expression} IS NULL")
    return " OR ".join(terms) or "false"


def _predicate(terms: Mapping[str, str], touched: Mapping[str, Sequence[Any]]) -> str | None:
    """OR of each touched grain's membership test; None when some touched grain has no term."""
    parts = []
    for grain, values in touched.items():
        if not values:
            continue
        if grain not in terms:
            return None
        parts.append(f"({_in(terms[grain], values)})")
    return " OR ".join(parts) or "false"


def _sources(warehouse: Warehouse, spec: DomainAssetSpec) -> dict[str, DeltaTable | None]:
    """Each source's newest snapshot; one not written yet is created empty, so its first rows
    arrive as changes like any others."""
    found: dict[str, DeltaTable | None] = {}
    for stream in map(get_stream, spec.deps):
        name = raw_table(stream)
        found[name] = warehouse.table(name) or warehouse.ensure_raw_table(stream)
    return found


def _changes(
    connection: duckdb.DuckDBPyConnection,
    spec: DomainAssetSpec,
    sources: Mapping[str, DeltaTable | None],
    recorded: Mapping[str, int],
) -> tuple[dict[str, list[Any]], int]:
    """The grain values of the raw rows changed since the recorded versions, and their count."""
    touched: dict[str, list[Any]] = {grain: [] for grain in spec.grains}
    rows = 0
    for name, table in sources.items():
        if table is None or table.version() <= recorded[name]:
            continue
        stream = name.split(".", 1)[1]
        changed = pa.table(
            table.load_cdf(starting_version=recorded[name] + 1, ending_version=table.version())
        )
        rows += changed.num_rows
        connection.register("__changes", changed)
        try:
            for grain, by_source in spec.grains.items():
                if stream in by_source:
                    found = connection.execute(
                        f"SELECT DISTINCT {by_source[stream]} FROM __changes"
                    ).fetchall()
                    touched[grain] += [value for (value,) in found]
        finally:
            connection.unregister("__changes")
    return {g: list(dict.fromkeys(v)) for g, v in touched.items()}, rows


def _define_sources(
    warehouse: Warehouse,
    connection: duckdb.DuckDBPyConnection,
    sources: Mapping[str, DeltaTable | None],
    spec: DomainAssetSpec,
    touched: Mapping[str, Sequence[Any]] | None,
) -> None:
    """`raw.<stream>` views over each source's snapshot, filtered to the touched groups."""
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_FULL}")
    connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for name, table in sources.items():
        stream = name.split(".", 1)[1]
        full = f"{_FULL}.{stream}"
        if table is None:
            empty_view(connection, full, raw_schema(get_stream(stream)))
        else:
            warehouse.view(connection, name, table, view=full)
        terms = {grain: by[stream] for grain, by in spec.grains.items() if stream in by}
        where = None if touched is None else _predicate(terms, touched)
        connection.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {full}"
            + ("" if where is None else f" WHERE {where}")
        )


def refresh(warehouse: Warehouse, spec: DomainAssetSpec, *, full: bool = False) -> Refreshed:
    """Bring `<domain>.<name>` up to the raw tables' current versions: incrementally when the
    table records the versions it was built from and their changes can be read, by a full
    rebuild otherwise (or with `full`)."""
    started = time.monotonic()
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            done = _refresh_once(warehouse, spec, full=full)
            done.seconds = time.monotonic() - started
            return done
        except CommitFailedError:  # another refresh committed first: start from its snapshot
            if attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _refresh_once(warehouse: Warehouse, spec: DomainAssetSpec, *, full: bool) -> Refreshed:
    sources = _sources(warehouse, spec)
    versions = {name: t.version() for name, t in sources.items() if t is not None}
    target = warehouse.table(spec.table)
    recorded: dict[str, int] = {}
    if target is not None:
        for name in versions:
            version = target.transaction_version(source_app_id(name))
            if version is not None:
                recorded[name] = int(version)
    incremental = not full and target is not None and set(recorded) == set(versions)
    commit = CommitProperties(
        app_transactions=[Transaction(source_app_id(n), v) for n, v in versions.items()]
    )
    with duckdb.connect() as connection:
        connection.execute(READER_SETTINGS)
        if incremental and target is not None:
            if all(versions[n] <= recorded[n] for n in versions):
                return Refreshed(spec.table, "unchanged", sources=versions)
            try:
                touched, changed = _changes(connection, spec, sources, recorded)
            except (DeltaError, OSError):  # changes no longer readable (vacuumed): rebuild
                incremental = False
            else:
                _define_sources(warehouse, connection, sources, spec, touched)
                where = _predicate({g: g for g in spec.grains}, touched) or "false"
                rows = connection.sql(f"SELECT * FROM ({spec.sql}) WHERE {where}").to_arrow_table()
                stored = pa.schema(target.schema().to_arrow())
                if rows.schema.names != stored.names:
                    incremental = False  # the SQL's columns changed: rebuild
                else:
                    rows = rows.cast(stored)
                    if where != "false":
                        write_deltalake(
                            target,
                            rows,
                            mode="overwrite",
                            predicate=where,
                            commit_properties=commit,
                        )
                    else:  # nothing touched (changes outside every grain): record the versions
                        write_deltalake(
                            target, rows.slice(0, 0), mode="append", commit_properties=commit
                        )
                    counts = {g: len(v) for g, v in touched.items()}
                    return Refreshed(spec.table, "incremental", changed, counts, versions)
        _define_sources(warehouse, connection, sources, spec, None)
        rows = connection.sql(spec.sql).to_arrow_table()
    uri = warehouse.uri(spec.table)
    write_deltalake(
        uri if target is None else target,
        rows,
        mode="overwrite",
        schema_mode="overwrite",
        configuration=TABLE_CONFIGURATION if target is None else None,
        commit_properties=commit,
    )
    return Refreshed(spec.table, "full", sources=versions)


def domain_stats(warehouse: Warehouse, spec: DomainAssetSpec) -> dict[str, int]:
    table = warehouse.table(spec.table)
    return {} if table is None else table_stats(table).metadata()
