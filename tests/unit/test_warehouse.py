"""Raw writes to the Delta tables: each Kafka offset once, whoever writes it and how often."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, QueryBuilder

from ownlens_kafka import get_stream
from ownlens_kafka.consumer import ConsumedEvent
from ownlens_pipelines.schema import events_table
from ownlens_pipelines.warehouse import Warehouse, WarehouseSchemaError, app_id
from tests.factories import valid_payload

SPEC = get_stream("user_events")


def batch(offsets: range, partition: int = 0, topic_id: str | None = "id-1") -> pa.Table:
    items = [
        ConsumedEvent(
            SPEC.model.model_validate(valid_payload(SPEC.model)), "k", "t", partition, offset, []
        )
        for offset in offsets
    ]
    return events_table(SPEC.model, items, topic_id)


def offsets(root: Path) -> list[tuple[int, int, int, int, int]]:
    """Read with delta-rs itself, not the project's views."""
    table = DeltaTable(str(root / "raw" / "user_events"))
    result = (
        QueryBuilder()
        .register("t", table)
        .execute(
            "SELECT _partition, count(*) AS n, count(DISTINCT _offset) AS d, min(_offset) AS lo, "
            "max(_offset) AS hi FROM t GROUP BY _partition ORDER BY _partition"
        )
    )
    rows = pa.table(result.read_all()).to_pylist()
    return [(r["_partition"], r["n"], r["d"], r["lo"], r["hi"]) for r in rows]


def test_each_offset_is_written_once_whatever_is_written_again(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path))
    warehouse.ensure_raw_table(SPEC)
    warehouse.write_raw(SPEC, batch(range(0, 10)))
    warehouse.write_raw(SPEC, batch(range(10, 20)))
    warehouse.write_raw(SPEC, batch(range(0, 10), partition=1))
    warehouse.write_raw(SPEC, batch(range(0, 10)))  # a crash before the Kafka commit: nothing
    written = warehouse.write_raw(SPEC, batch(range(15, 25)))  # overlapping: only 20..24
    assert written.num_rows == 5
    assert offsets(tmp_path) == [(0, 25, 25, 0, 24), (1, 10, 10, 0, 9)]
    table = DeltaTable(str(tmp_path / "raw" / "user_events"))
    assert table.transaction_version(app_id("t", "id-1", 0)) == 24
    assert warehouse.recorded(SPEC, "t", "id-1", [0, 1, 2]) == {0: 24, 1: 9}
    assert warehouse.recorded(SPEC, "t", "id-2", [0]) == {}  # a recreated topic starts afresh


def test_a_recreated_topic_adds_to_the_history(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path))
    warehouse.write_raw(SPEC, batch(range(0, 10)))
    warehouse.write_raw(SPEC, batch(range(0, 4), topic_id="id-2"))
    assert offsets(tmp_path) == [(0, 14, 10, 0, 9)]


def test_replace_rewrites_exactly_the_range_in_one_commit(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path))
    warehouse.write_raw(SPEC, batch(range(0, 20)))
    before = DeltaTable(str(tmp_path / "raw" / "user_events")).version()
    rows = batch(range(5, 10))
    warehouse.write_raw(SPEC, rows, [("t", "id-1", 0, 5, 12)], replace=True)  # 10..12 dropped
    table = DeltaTable(str(tmp_path / "raw" / "user_events"))
    assert table.version() == before + 1
    assert offsets(tmp_path) == [(0, 17, 17, 0, 19)]


def _write_all(root: str, size: int) -> None:
    """Offsets 0..199 in batches of `size`, in order, as a consumer reads a partition."""
    warehouse = Warehouse(root)
    for first in range(0, 200, size):
        warehouse.write_raw(SPEC, batch(range(first, min(first + size, 200))))


def test_writers_racing_on_the_same_partition_write_each_offset_once(tmp_path: Path) -> None:
    Warehouse(str(tmp_path)).ensure_raw_table(SPEC)
    spawn = multiprocessing.get_context("spawn")
    # each batch overlaps others' batches differently, as after a rebalance or a retry
    writers = [spawn.Process(target=_write_all, args=(str(tmp_path), s)) for s in (10, 7, 13)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [w.exitcode for w in writers] == [0, 0, 0]
    assert offsets(tmp_path) == [(0, 200, 200, 0, 199)]


def test_views_read_a_snapshot_with_duckdb(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path))
    warehouse.write_raw(SPEC, batch(range(0, 10)))
    with warehouse.connect() as connection:
        warehouse.write_raw(SPEC, batch(range(10, 30)))  # after the snapshot: not seen
        [(count, kinds)] = connection.execute(
            "SELECT count(*), count(DISTINCT typeof(event_id)) FROM raw.user_events"
        ).fetchall()
    assert (count, kinds) == (10, 1)
    assert warehouse.tables() == ["raw.user_events"]
    assert warehouse.count("raw.user_events") == 30


def test_a_column_whose_type_changed_is_named(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path))
    other = get_stream("sessions")
    DeltaTable.create(
        str(tmp_path / "raw" / "sessions"), schema=pa.schema([("session_id", pa.int64())])
    )
    with pytest.raises(WarehouseSchemaError, match="session_id"):
        warehouse.ensure_raw_table(other)
