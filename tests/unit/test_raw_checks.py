"""The raw table checks on rows that break them, and on rows that do not."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake

from ownlens_kafka import get_stream
from ownlens_pipelines.assets.raw import check_table
from ownlens_pipelines.warehouse import Warehouse, raw_schema, raw_table

SPEC = get_stream("user_events")
NAMES = {"keys_not_null", "unique_ids", "fresh"}


def checks(
    tmp_path: Path, rows: Sequence[tuple[str | None, str]], lag: int
) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Each check's (passed, metadata) on a raw table holding `rows` of (user_id, event_id)."""
    warehouse = Warehouse(str(tmp_path / "lake"))
    warehouse.ensure_raw_table(SPEC)
    ingested = datetime.now(UTC) - timedelta(minutes=2)
    values = {
        "user_id": [user_id for user_id, _ in rows],
        "event_id": [event_id for _, event_id in rows],
        "_ingested_at": [ingested] * len(rows),
    }
    schema = raw_schema(SPEC)  # the other columns null: rows no validated model lets through
    table = pa.table(
        {f.name: pa.array(values.get(f.name, [None] * len(rows)), f.type) for f in schema},
        schema=schema,
    )
    write_deltalake(warehouse.uri(raw_table(SPEC)), table, mode="append")
    with warehouse.connect([raw_table(SPEC)]) as connection:
        results = check_table(connection, SPEC, NAMES, lag=lag, freshness_bound=60.0)
    return {
        str(r.check_name): (r.passed, {k: v.value for k, v in r.metadata.items()}) for r in results
    }


def test_checks_fail_on_a_missing_key_a_duplicate_id_and_stale_rows_while_lagging(tmp_path):
    same = str(uuid.uuid4())
    found = checks(tmp_path, [(None, same), (str(uuid.uuid4()), same)], lag=5)
    assert found["keys_not_null"] == (False, {"rows_missing_keys": 1})
    assert found["unique_ids"] == (False, {"duplicates": 1})
    passed, metadata = found["fresh"]
    assert passed is False and metadata["newest_row_age_s"] >= 120


def test_checks_pass_on_distinct_complete_rows_without_lag(tmp_path):
    rows = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(3)]
    found = checks(tmp_path, rows, lag=0)
    assert found["keys_not_null"] == (True, {"rows_missing_keys": 0})
    assert found["unique_ids"] == (True, {"duplicates": 0})
    assert found["fresh"][0] is True
