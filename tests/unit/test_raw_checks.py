"""The raw table checks on rows that break them, and on rows that do not."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ownlens_kafka import get_stream
from ownlens_pipelines.assets.raw import check_table
from ownlens_pipelines.warehouse import Warehouse, raw_table

SPEC = get_stream("user_events")
NAMES = {"keys_not_null", "unique_ids", "fresh"}


def checks(
    tmp_path: Path, rows: Sequence[tuple[str | None, str]], lag: int
) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Each check's (passed, metadata) on a raw table holding `rows` of (user_id, event_id)."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.connect() as connection:
        warehouse.ensure_raw_table(connection, SPEC)
        for user_id, event_id in rows:
            connection.execute(
                f"INSERT INTO {raw_table(SPEC)} (user_id, event_id, _ingested_at) "
                "VALUES (?, ?, now() - INTERVAL 2 MINUTE)",
                [user_id, event_id],
            )
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
