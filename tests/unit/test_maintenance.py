"""Maintenance: small files compacted, nothing lost, open snapshots still readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable

from ownlens_kafka import get_stream
from ownlens_pipelines.maintenance import maintain_warehouse
from ownlens_pipelines.resources import WarehouseResource
from ownlens_pipelines.warehouse import Warehouse
from tests.unit.test_warehouse import batch

SPEC = get_stream("user_events")


def test_maintenance_compacts_and_keeps_open_snapshots_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OWNLENS_VACUUM_RETENTION", "3600")
    warehouse = Warehouse(str(tmp_path))
    for first in range(0, 300, 10):
        warehouse.write_raw(SPEC, batch(range(first, first + 10)))
    path = str(tmp_path / "raw" / "user_events")
    assert len(DeltaTable(path).file_uris()) == 30
    reader = warehouse.session()  # a notebook holding its snapshot
    result = maintain_warehouse.execute_in_process(
        resources={"warehouse": WarehouseResource(root=str(tmp_path))}
    )
    assert result.success
    table = DeltaTable(path)
    assert len(table.file_uris()) == 1
    assert warehouse.count("raw.user_events") == 300
    [(rows, distinct)] = reader.execute(
        "SELECT count(*), count(DISTINCT _offset) FROM raw.user_events"
    ).fetchall()
    assert (rows, distinct) == (300, 300)  # its files outlive the compaction
    reader.close()
    [observed] = [
        e.event_specific_data.asset_observation  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert observed.metadata["files"].value == 1
    assert observed.metadata["compacted_files"].value == 30
    assert observed.metadata["dagster/row_count"].value == 300
    # writes after maintenance still skip what the table holds
    assert warehouse.write_raw(SPEC, batch(range(290, 310))).num_rows == 10
