"""What a long-lived ingestion run reports: each interval's figures, and check results only
when they change (the UI shows a run's last result for its later materializations)."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from ownlens_pipelines.etl.extractor import ExtractResult
from ownlens_pipelines.following import Interval
from ownlens_pipelines.ingestion import REPEAT_EVERY, Reported

KEY = dg.AssetKey(["raw", "user_events"])


def evaluation(passed: bool, name: str = "unique_ids") -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(asset_key=KEY, check_name=name, passed=passed)


def test_a_check_result_is_reported_again_when_it_changes_or_grows_old() -> None:
    reported = Reported()
    assert reported.changed(evaluation(True))  # the first
    assert reported.changed(evaluation(True, "fresh"))  # another check: its own first
    repeats = [reported.changed(evaluation(True)) for _ in range(REPEAT_EVERY)]
    assert repeats == [False] * (REPEAT_EVERY - 1) + [True]  # fresh figures now and then
    assert reported.changed(evaluation(False))  # failed: at once
    assert not reported.changed(evaluation(False))
    assert reported.changed(evaluation(True))  # passing again: at once


def test_an_interval_sums_what_its_writes_did() -> None:
    interval, result = Interval(), ExtractResult("user_events", "raw.user_events")
    result.latencies = [pa.array([1.0, 2.0, 3.0])]
    result.rows_total = 10
    interval.add(3, 1, result)
    result.latencies.append(pa.array([5.0]))
    result.rows_total = 11
    interval.add(1, 0, result)
    interval.add(0, 2, result)  # letters only: no latency of its own
    figures = interval.metadata(seconds=2.0, lag=7)
    assert figures["rows_written"] == 4 and figures["dead_lettered"] == 3
    assert figures["dagster/row_count"] == 11 and figures["lag"] == 7
    assert figures["latency_max_s"] == 5.0 and figures["latency_p50_s"] == 2.5
    assert figures["events_per_s"] == 3.5
    assert Interval().metadata(1.0, None)["latency_p50_s"] is None
