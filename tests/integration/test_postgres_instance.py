"""The Dagster instance on PostgreSQL (docker/dagster.yaml, copied as is) on the real server:
in-process materializations, then the real daemon with its sensors and run queue."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
import pytest

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import group_lag, stream_groups
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import StreamSpec, get_stream
from ownlens_pipelines.ingestion import FOLLOW_JOB
from ownlens_pipelines.warehouse import Warehouse, raw_table
from tests.conftest import wait_for
from tests.factories import valid_payload
from tests.helpers import ROOT, materialization, one_row, publish
from tests.postgres import Database, dagster_home, fresh_database

RAW_USER_EVENTS = dg.AssetKey(["raw", "user_events"])


@pytest.fixture
def postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A fresh database, and DAGSTER_PG_* pointing at it."""
    with fresh_database() as database:
        for name, value in database.env.items():
            monkeypatch.setenv(name, value)
        yield database


@pytest.fixture
def instance(postgres: Database, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """The instance docker/dagster.yaml describes, on this test's database."""
    with dg.DagsterInstance.from_config(str(dagster_home(tmp_path / "dagster_home"))) as made:
        yield made


def test_instance_stores_runs_and_events_on_the_server(
    env, kafka_config, postgres: Database, instance: dg.DagsterInstance
) -> None:
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage
    from dagster_postgres.schedule_storage import PostgresScheduleStorage

    from ownlens_pipelines.definitions import defs as load

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    asset = load().resolve_assets_def(RAW_USER_EVENTS)
    before = postgres.counters()
    rows = []
    for count in (7, 5, 0):
        publish(count, kafka_config)
        result = dg.materialize([asset], instance=instance, selection=[RAW_USER_EVENTS])
        assert result.success
        event = instance.get_latest_materialization_event(RAW_USER_EVENTS)
        rows.append(materialization(event).metadata["rows_written"].value)
    assert rows == [7, 5, 0]
    runs = instance.get_runs()
    assert len(runs) == 3 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert {r.run_id for r in runs} == {
        e.run_id for e in instance.fetch_materializations(RAW_USER_EVENTS, limit=10).records
    }
    pool = instance.event_log_storage.get_pool_config().default_pool_limit
    assert pool == 1, "the instance has the concurrency settings of docker/dagster.yaml"

    # the runs and their events are rows of the test's database on the server
    assert postgres.rows("runs") == 3
    events = sum(len(instance.all_logs(run.run_id)) for run in runs)
    assert postgres.rows("event_logs") == events > 3 * 10
    after = settled_counters(postgres, before)
    print(
        f"\nPostgreSQL {postgres.name}: runs 3, event_logs {events}; server counters "
        f"+{after[0] - before[0]} transactions, +{after[1] - before[1]} rows inserted"
    )


def settled_counters(postgres: Database, before: tuple[int, int]) -> tuple[int, int]:
    """The database's counters once they grew and two readings a second apart agree."""
    readings = [before]

    def settled() -> tuple[int, int] | None:
        readings.append(postgres.counters())
        last, previous = readings[-1], readings[-2]
        return last if last == previous and last[1] > before[1] else None

    return wait_for(settled, timeout=30, interval=1, what="the server's counters to settle")


# --- the real daemon on PostgreSQL ----------------------------------------------------------

ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
BACKLOG = 4_000  # 20 batches of BATCH: seconds of work, so the first run is caught half-way
BATCH = 200


def start_daemon(environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=environment,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_daemon(daemon: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the daemon's process group; every process it started must be gone."""
    if daemon.poll() is not None:
        return
    family = [*psutil.Process(daemon.pid).children(recursive=True), psutil.Process(daemon.pid)]
    os.killpg(daemon.pid, signal.SIGTERM)
    daemon.wait(60)
    _, alive = psutil.wait_procs(family, timeout=30)
    for process in alive:
        process.kill()
    assert not alive, f"processes left behind: {[p.pid for p in alive]}"


def run_worker(daemon: subprocess.Popen[bytes]) -> psutil.Process | None:
    """The process executing a run: the code server's multiprocessing child."""
    for process in psutil.Process(daemon.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any("spawn_main" in part for part in process.cmdline()):
                return process
    return None


def ingest_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Every run of the long-lived ingestion job."""
    return list(instance.get_runs(dg.RunsFilter(job_name=FOLLOW_JOB)))


def lag(kafka_config: KafkaConfig, spec: StreamSpec) -> tuple[int, int]:
    """(offsets committed, lag) of the stream's group, summed over its partitions."""
    lags = group_lag(kafka_config, stream_groups(kafka_config, [spec]))
    return sum(p.committed or 0 for p in lags), sum(p.lag for p in lags)


def raw_positions(warehouse: str, spec: StreamSpec) -> tuple[int, int, int]:
    """(rows, distinct Kafka positions, distinct event ids) of the stream's raw table."""
    with Warehouse(warehouse).connect() as connection:
        rows, positions, ids = one_row(
            connection,
            f"SELECT count(*), count(DISTINCT (_topic_id, _partition, _offset)), "
            f"count(DISTINCT {spec.id_field}) FROM {raw_table(spec)}",
        )
    return int(rows), int(positions), int(ids)


def publish_stream(spec: StreamSpec, count: int, config: KafkaConfig) -> None:
    with BaseKafkaProducer[Any](config, stream=spec) as producer:
        for _ in range(count):
            producer.publish(valid_payload(spec.model))


def test_daemon_on_postgres_ingests_once_after_a_killed_run_and_across_daemons(
    env, kafka_config, postgres: Database, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    from ownlens_pipelines.definitions import defs as load

    spec = get_stream("user_events")
    graph = load().resolve_asset_graph()
    # the domain asset over user_events that reads the fewest raw tables
    domain_key = min(
        graph.get(RAW_USER_EVENTS).child_keys,
        key=lambda key: (len(graph.get(key).parent_keys), key.to_user_string()),
    )
    domain_sources = [get_stream(k.path[-1]) for k in graph.get(domain_key).parent_keys]
    environment = {
        **os.environ,
        "DAGSTER_HOME": instance.root_directory,
        "OWNLENS_SENSOR_INTERVAL": "1",
        "OWNLENS_BATCH_SIZE": str(BATCH),
        "OWNLENS_INGEST_IDLE_TIMEOUT": "5",  # the follow runs end soon after the backlog
        "OWNLENS_REPORT_INTERVAL": "2",
        "OWNLENS_DOMAIN_INTERVAL": "5",
    }
    before = postgres.counters()
    publish(BACKLOG, kafka_config)
    for source in domain_sources:
        if source != spec:
            publish_stream(source, 5, kafka_config)

    first = start_daemon(environment, tmp_path / "daemon-1.log")
    try:
        # 1. the lag sensor's first run, caught half-way: stopped, checked, killed
        wait_for(
            lambda: lag(kafka_config, spec)[0] > 0,
            timeout=150,
            what="the first follow run to commit a batch",
        )
        worker = run_worker(first)
        assert worker is not None, "no run worker while the group is being committed"
        worker.suspend()
        committed_at_kill, lag_at_kill = lag(kafka_config, spec)
        assert 0 < committed_at_kill < BACKLOG and lag_at_kill > 0, (
            f"the run was not caught half-way ({committed_at_kill} of {BACKLOG} committed)"
        )
        worker.kill()
        killed = wait_for(
            lambda: [r for r in ingest_runs(instance) if r.is_failure],
            timeout=60,
            what="the killed run to be marked failed",
        )
        assert len(killed) == 1

        # 2. the backlog left behind is ingested by a new run, once
        wait_for(
            lambda: lag(kafka_config, spec)[1] == 0,
            timeout=120,
            what="a new run to ingest the backlog left by the killed one",
        )
        # 3. the automation rebuilds the domain asset after the raw tables changed
        rebuilt = wait_for(
            lambda: instance.get_latest_materialization_event(domain_key),
            timeout=120,
            what=f"the automation to materialize {domain_key.to_user_string()}",
        )
        by = instance.get_run_by_id(rebuilt.run_id)
        assert by is not None and by.tags.get("dagster/from_automation_condition") == "true"
        wait_for(
            lambda: not instance.get_runs_count(dg.RunsFilter(statuses=ACTIVE)),
            timeout=120,
            what="the first daemon's runs to finish",
        )
    finally:
        stop_daemon(first)
    assert raw_positions(env["OWNLENS_WAREHOUSE"], spec) == (BACKLOG, BACKLOG, BACKLOG)
    runs_first = ingest_runs(instance)

    # 4. a second daemon on the same storage: new events are ingested, nothing is requested twice
    publish(40, kafka_config)
    second = start_daemon(environment, tmp_path / "daemon-2.log")
    try:
        wait_for(
            lambda: lag(kafka_config, spec)[1] == 0,
            timeout=120,
            what="the second daemon to ingest the new events",
        )
        wait_for(
            lambda: not instance.get_runs_count(dg.RunsFilter(statuses=ACTIVE)),
            timeout=120,
            what="the second daemon's runs to finish",
        )
    finally:
        stop_daemon(second)

    total = BACKLOG + 40
    assert raw_positions(env["OWNLENS_WAREHOUSE"], spec) == (total, total, total)
    runs = instance.get_runs()
    keyed = [
        (r.tags.get("dagster/sensor_name"), r.tags["dagster/run_key"])
        for r in runs
        if "dagster/run_key" in r.tags
    ]
    duplicates = {key: n for key, n in Counter(keyed).items() if n > 1}
    assert not duplicates, f"run keys requested twice: {duplicates}"
    ingest = ingest_runs(instance)
    assert len(ingest) > len(runs_first) >= 2, "both daemons requested ingest runs"
    requested = [r for r in runs if r.tags.get("dagster/sensor_name")]
    assert all(r.tags.get("dagster/sensor_name") for r in ingest), (
        "every ingest run came from a sensor"
    )
    after = settled_counters(postgres, before)
    print(
        f"\nruns {len(runs)} (rows in the server's runs table: {postgres.rows('runs')}), "
        f"{len(requested)} requested by sensors, {len(ingest)} ingesting user_events, "
        f"{len(keyed)} with run keys, {len(duplicates)} duplicate keys; killed at "
        f"{committed_at_kill}/{BACKLOG} committed; raw rows {total}, unique positions {total}; "
        f"PostgreSQL {postgres.name}: +{after[0] - before[0]} transactions, "
        f"+{after[1] - before[1]} rows inserted"
    )
