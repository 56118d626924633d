"""Bounded Dagster history: old finished runs, ticks and their files go; recent or active ones
stay, on a real (SQLite) instance."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import dagster as dg
import pytest
from dagster._core.remote_origin import (  # an instigator's identity, as the daemon stores it
    RegisteredCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    SensorInstigatorData,
    TickData,
    TickStatus,
)
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.runs.schema import RunsTable
from dagster_shared.error import SerializableErrorInfo

from ownlens_kafka.config import ConfigError, read_settings
from ownlens_pipelines.retention import (
    RetentionSettings,
    prune_dagster_history,
    retention_definitions,
)

NOW = datetime.now(UTC)
OLD = NOW - timedelta(hours=2)  # past a retention of 1h


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        yield instance


def add_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, updated: datetime) -> str:
    """A run with `status`, last updated at `updated`, with an event in its own file."""
    run = instance.add_run(dg.DagsterRun(job_name="demo", run_id=str(uuid.uuid4()), status=status))
    instance.report_engine_event("a step wrote", run)
    with cast(Any, instance.run_storage).connect() as connection:  # SQLite: age it in place
        connection.execute(
            RunsTable.update()
            .where(RunsTable.c.run_id == run.run_id)
            .values(update_timestamp=updated.replace(tzinfo=None))
        )
    return run.run_id


def event_file(instance: dg.DagsterInstance, run_id: str) -> Path:
    storage = instance.event_log_storage
    assert isinstance(storage, SqliteEventLogStorage)
    return Path(storage.path_for_shard(run_id))


def sensor_state(instance: dg.DagsterInstance) -> InstigatorState:
    repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("ownlens"), "__repository__")
    state = InstigatorState(
        RemoteInstigatorOrigin(repository, "consumer_lag"),
        InstigatorType.SENSOR,
        InstigatorStatus.DECLARED_IN_CODE,
        SensorInstigatorData(),
    )
    instance.add_instigator_state(state)
    return state


def add_tick(
    instance: dg.DagsterInstance, state: InstigatorState, status: TickStatus, at: datetime
) -> None:
    instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=state.name,
            instigator_type=state.instigator_type,
            status=status,
            timestamp=at.timestamp(),
            selector_id=state.selector_id,
            run_ids=["r"] if status == TickStatus.SUCCESS else [],
            error=SerializableErrorInfo("failed", [], "Error")
            if status == TickStatus.FAILURE
            else None,
        )
    )


def test_old_finished_runs_go_with_their_events_recent_and_active_ones_stay(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OWNLENS_RUN_RETENTION", "1h")
    Status = dg.DagsterRunStatus
    old = {status: add_run(instance, status, OLD) for status in (Status.SUCCESS, Status.FAILURE)}
    old[Status.CANCELED] = add_run(instance, Status.CANCELED, OLD)
    # a long-lived run (follow_streams) last updated long ago, one starting, one canceling
    active = [
        add_run(instance, status, OLD)
        for status in (Status.STARTED, Status.STARTING, Status.CANCELING)
    ]
    recent = [add_run(instance, Status.SUCCESS, NOW), add_run(instance, Status.FAILURE, NOW)]
    assert all(event_file(instance, run_id).exists() for run_id in old.values())

    result = prune_dagster_history.execute_in_process(instance=instance)

    assert result.success
    assert result.output_for_node("prune_history")["runs_deleted"] == 3
    kept = {run.run_id for run in instance.get_runs()}
    assert kept == {*active, *recent, result.run_id}
    for run_id in old.values():
        assert not event_file(instance, run_id).exists()  # not an emptied file per run
    assert all(event_file(instance, run_id).exists() for run_id in recent)
    assert len(instance.all_logs(recent[0])) == 1  # the others' events are untouched


def test_old_ended_ticks_go_and_a_tick_in_progress_stays(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OWNLENS_RUN_RETENTION", "1h")
    state = sensor_state(instance)
    for status in (TickStatus.SKIPPED, TickStatus.SUCCESS, TickStatus.FAILURE, TickStatus.STARTED):
        add_tick(instance, state, status, OLD)
    add_tick(instance, state, TickStatus.SKIPPED, NOW)

    assert prune_dagster_history.execute_in_process(instance=instance).success

    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
    assert sorted((tick.status.value, tick.timestamp >= NOW.timestamp()) for tick in ticks) == [
        ("SKIPPED", True),
        ("STARTED", False),
    ]


def test_nothing_to_prune_is_a_success(instance: dg.DagsterInstance) -> None:
    result = prune_dagster_history.execute_in_process(instance=instance)
    assert result.success
    assert result.output_for_node("prune_history")["runs_deleted"] == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("3600", timedelta(hours=1)),
    ],
)
def test_retention_is_read_as_the_vacuum_retention_is(
    value: str, expected: timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OWNLENS_RUN_RETENTION", value)
    assert read_settings(RetentionSettings).run_retention == expected


@pytest.mark.parametrize("value", ["soon", "0", "-1h"])
def test_a_bad_retention_names_its_variable(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OWNLENS_RUN_RETENTION", value)
    with pytest.raises(ConfigError, match="OWNLENS_RUN_RETENTION"):
        read_settings(RetentionSettings)


def test_default_retention_is_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OWNLENS_RUN_RETENTION", raising=False)
    assert read_settings(RetentionSettings).run_retention == timedelta(days=1)


@pytest.mark.parametrize("running", [True, False])
def test_the_schedule_runs_hourly_and_starts_as_the_sensors_do(running: bool) -> None:
    defs = retention_definitions(running=running)
    dg.Definitions.validate_loadable(defs)
    [schedule] = defs.schedules or []
    assert isinstance(schedule, dg.ScheduleDefinition)
    assert schedule.job_name == "prune_dagster_history"
    assert schedule.cron_schedule == "5 * * * *"
    expected = dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED
    assert schedule.default_status == expected


def test_merges_with_the_code_location() -> None:
    from ownlens_pipelines.definitions import defs

    loaded = defs()  # the code location merges them itself
    dg.Definitions.validate_loadable(loaded)
    assert loaded.get_job_def("prune_dagster_history")
