"""End to end with the real Dagster daemon and the sensors as shipped: one long-lived run follows
every lagging stream and reports it with completed checks, and a killed run's backlog is
ingested once by the next."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
import pytest

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import group_lag
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import get_stream
from ownlens_pipelines.dev import DAGSTER_YAML
from ownlens_pipelines.ingestion import FOLLOW_JOB
from ownlens_pipelines.sensors import STREAMS_TAG
from ownlens_pipelines.warehouse import Warehouse
from tests.conftest import wait_for
from tests.factories import valid_payload
from tests.helpers import ROOT, materialization

LAGGING = ("user_events", "sessions", "audit_logs")
BIG = 50_000  # a backlog of 100 batches of 500: a kill lands mid-way
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@pytest.fixture
def daemon(env, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """`dagster-daemon run` on the code location, as `make run` configures it."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    # the storage is created here, before the daemon opens it: two first openings race
    with dg.DagsterInstance.from_config(str(home)) as instance:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "DAGSTER_HOME": str(home),
                "OWNLENS_SENSOR_INTERVAL": "4",  # as `make run`
                "OWNLENS_BATCH_SIZE": "500",  # many commits per run: a kill lands between two
                "OWNLENS_REPORT_INTERVAL": "2",
                "OWNLENS_INGEST_IDLE_TIMEOUT": "6",
            },
            stdout=(tmp_path / "daemon.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield instance
        finally:
            family = []
            with contextlib.suppress(psutil.NoSuchProcess):  # it may have died on its own
                family = psutil.Process(process.pid).children(recursive=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)
            _, alive = psutil.wait_procs(family, timeout=30)
            for leftover in alive:
                leftover.kill()
            assert not alive, f"processes left behind: {[p.pid for p in alive]}"


def ingest_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(reversed(instance.get_runs(dg.RunsFilter(job_name=FOLLOW_JOB))))


def raw_rows(env, stream: str) -> tuple[int, int]:
    """(rows, distinct Kafka positions) of `raw.<stream>`."""
    with Warehouse(env["OWNLENS_WAREHOUSE"]).connect() as connection:
        row = connection.execute(
            f"SELECT count(*), count(DISTINCT (_topic_id, _partition, _offset)) FROM raw.{stream}"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def publish_to(stream: str, count: int, config: KafkaConfig) -> None:
    """`count` valid events of the stream, delivered."""
    spec = get_stream(stream)
    producer: BaseKafkaProducer[Any]
    with BaseKafkaProducer(config, stream=spec) as producer:
        producer.publish_batch([valid_payload(spec.model) for _ in range(count)])


def committed(config: KafkaConfig, stream: str) -> tuple[int, int]:
    """(offsets committed, lag) of the stream's group, summed over partitions."""
    spec = get_stream(stream)
    lags = group_lag(config, {spec.group_id: [config.topic_name(spec.topic)]})
    return sum(p.committed or 0 for p in lags), sum(p.lag for p in lags)


def test_one_run_follows_every_lagging_stream_and_a_killed_run_loses_nothing(
    daemon: dg.DagsterInstance, env, kafka_config
) -> None:
    for stream, count in zip(LAGGING, (15, 5, 7), strict=True):
        publish_to(stream, count, kafka_config)
    first = wait_for(
        lambda: next((r for r in ingest_runs(daemon) if r.status in FINISHED), None),
        timeout=240,
        interval=1,
        what="the sensor-launched run to follow the streams and end when idle",
    )
    assert first.status == dg.DagsterRunStatus.SUCCESS
    assert first.tags["dagster/sensor_name"] == "consumer_lag"
    assert set(first.tags[STREAMS_TAG].split(",")) == set(LAGGING)
    written: dict[str, int] = {}
    for record in daemon.get_records_for_run(
        first.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        assert record.asset_key is not None
        metadata = materialization(record.event_log_entry).metadata
        name = record.asset_key.path[-1]
        written[name] = written.get(name, 0) + int(metadata["rows_written"].value)  # type: ignore[arg-type]
    assert written == {"user_events": 15, "sessions": 5, "audit_logs": 7}
    keys = [
        dg.AssetCheckKey(dg.AssetKey(["raw", stream]), check)
        for stream in LAGGING
        for check in ("keys_not_null", "unique_ids", "fresh")
    ]
    latest = daemon.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    assert {(r.status.value, r.run_id) for r in latest.values()} == {("SUCCEEDED", first.run_id)}
    assert len(ingest_runs(daemon)) == 1  # the sensor ticked every 4 s: the active run held it

    publish_to("user_events", BIG, kafka_config)
    victim = wait_for(
        lambda: next((r for r in ingest_runs(daemon)[1:] if step_started(daemon, r)), None),
        timeout=240,
        interval=0.2,
        what="a run following the large backlog",
    )
    wait_for(  # some batches written and committed, more to come: the run is mid-way
        lambda: committed(kafka_config, "user_events")[0] > 15 + 500,
        timeout=120,
        interval=0.05,
        what="the first batches of the large backlog committed",
    )
    os.kill(worker_pid(daemon, victim), signal.SIGKILL)
    wait_for(
        lambda: status(daemon, victim) in FINISHED,
        timeout=60,
        interval=0.5,
        what="the killed run to be marked finished",
    )
    assert status(daemon, victim) == dg.DagsterRunStatus.FAILURE
    assert committed(kafka_config, "user_events")[1] > 0, "the run was killed too late"
    wait_for(
        lambda: (
            committed(kafka_config, "user_events")[1] == 0
            and all(r.status in FINISHED for r in ingest_runs(daemon))
            and len(ingest_runs(daemon)) > 2
        ),
        timeout=300,
        interval=1,
        what="the rest of the backlog ingested by a later run",
    )
    rows, positions = raw_rows(env, "user_events")
    assert rows == positions == 15 + BIG  # every event once, the killed run's last batch too
    ids = [r.run_id for r in ingest_runs(daemon)]
    later = ingest_runs(daemon)[ids.index(victim.run_id) + 1 :]
    assert later and later[-1].status == dg.DagsterRunStatus.SUCCESS
    latest = daemon.event_log_storage.get_latest_asset_check_execution_by_key(keys[:3])
    assert {(r.status.value, r.run_id) for r in latest.values()} == {
        ("SUCCEEDED", later[-1].run_id)
    }


def status(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.DagsterRunStatus | None:
    found = instance.get_run_by_id(run.run_id)
    return found.status if found else None


def step_started(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    return bool(
        instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
    )


def worker_pid(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int:
    """The process executing the run (it wrote the step's start)."""
    [record] = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1
    ).records
    event = record.event_log_entry.dagster_event
    assert event is not None and event.pid is not None
    return event.pid
