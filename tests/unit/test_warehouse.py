"""Idempotent raw writes: a batch replaces exactly its own Kafka positions, nothing else."""

from __future__ import annotations

from pathlib import Path

from ownlens_kafka import get_stream
from ownlens_kafka.consumer import ConsumedEvent
from ownlens_pipelines.schema import events_table
from ownlens_pipelines.warehouse import Warehouse
from tests.factories import valid_payload

SPEC = get_stream("user_events")


def batch(offsets: range, partition: int = 0):
    items = [
        ConsumedEvent(
            SPEC.model.model_validate(valid_payload(SPEC.model)), "k", "t", partition, offset, []
        )
        for offset in offsets
    ]
    return events_table(SPEC.model, items)


def test_a_batch_replaces_only_its_own_offset_range(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.connect() as connection:
        warehouse.ensure_raw_table(connection, SPEC)
        warehouse.write_raw(connection, SPEC, batch(range(0, 10)))
        warehouse.write_raw(connection, SPEC, batch(range(10, 20)))
        warehouse.write_raw(connection, SPEC, batch(range(0, 10), partition=1))
        # the first batch again (a crash before its commit): its rows are replaced, once
        warehouse.write_raw(connection, SPEC, batch(range(0, 10)))
        # a stale, smaller batch of a member that lost the partition leaves later rows alone
        warehouse.write_raw(connection, SPEC, batch(range(5, 8)))
        rows = connection.execute(
            "SELECT _partition, count(*), count(DISTINCT _offset), min(_offset), max(_offset) "
            "FROM raw.user_events GROUP BY ALL ORDER BY 1"
        ).fetchall()
    assert rows == [(0, 20, 20, 0, 19), (1, 10, 10, 0, 9)]
