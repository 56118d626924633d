"""Streaming mode: long-lived consumers write as events arrive and Dagster sees the tables."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from deltalake.exceptions import DeltaError

from ownlens_kafka import get_stream
from ownlens_kafka.lag import group_lag
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.streaming import stream_forever
from ownlens_pipelines.warehouse import Warehouse
from tests.conftest import wait_for
from tests.helpers import delta_count, materialization, publish

SPEC = get_stream("user_events")


def count(path: str) -> int:
    return delta_count(path, "raw.user_events")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Dagster instance of the test's own, where the stream reports its writes."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_stream_writes_continuously_and_reports_to_dagster(env, kafka_config, home) -> None:
    stop = threading.Event()
    reports: list[tuple[str, int, int]] = []
    etl = ETLConfig(kafka=kafka_config, warehouse=env["OWNLENS_WAREHOUSE"], batch_size=50)
    worker = threading.Thread(
        target=stream_forever, args=([SPEC], stop, lambda *r: reports.append(r), etl)
    )
    worker.start()
    try:
        publish(30, kafka_config)
        wait_for(lambda: count(etl.warehouse) == 30, timeout=60, interval=0.2, what="30 rows")
        publish(12, kafka_config)  # a second wave, while the consumer keeps running
        wait_for(lambda: count(etl.warehouse) == 42, timeout=60, interval=0.2, what="42 rows")
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()
    assert sum(written for _, written, _ in reports) == 42
    instance = dg.DagsterInstance.from_config(str(home))
    event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "user_events"]))
    assert materialization(event).metadata["dagster/row_count"].value == 42
    lags = group_lag(kafka_config, {SPEC.group_id: [kafka_config.topic_name(SPEC.topic)]})
    assert sum(p.lag for p in lags) == 0  # committed after each write


def test_a_failed_warehouse_write_is_retried_and_the_stream_goes_on(
    env, kafka_config, home, monkeypatch
) -> None:
    # the store failing one commit, as an object store out of reach does
    failures = [DeltaError("Generic S3 error: error sending request: connection reset by peer")]
    write = Warehouse.commit_raw

    def flaky(self: Warehouse, *args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return write(self, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "commit_raw", flaky)
    stop, errors = threading.Event(), []
    etl = ETLConfig(kafka=kafka_config, warehouse=env["OWNLENS_WAREHOUSE"], batch_size=50)

    def stream() -> None:
        try:
            stream_forever([SPEC], stop, None, etl)
        except Exception as exc:
            errors.append(exc)

    worker = threading.Thread(target=stream)
    worker.start()
    try:
        publish(10, kafka_config)
        wait_for(lambda: count(etl.warehouse) == 10 or errors, timeout=60, interval=0.2)
    finally:
        stop.set()
        worker.join(30)
    assert (errors, failures, count(etl.warehouse)) == ([], [], 10)
