"""Bounded Dagster history: an hourly job deletes what is older than `OWNLENS_RUN_RETENTION`
(24h by default): finished runs with their events (on SQLite, their event files too), sensor
and schedule ticks, and the automation sensor's evaluations (Dagster keeps those 30 days)."""

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import dagster as dg
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.event_log import SqliteEventLogStorage  # its per-run files
from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ownlens_kafka.config import read_settings
from ownlens_pipelines.settings import ETLConfig

DEFAULT_CRON = "5 * * * *"  # hourly, off the maintenance schedule's minutes
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# Ticks still in progress are the daemon's; the others may go.
ENDED_TICKS = [TickStatus.SKIPPED, TickStatus.SUCCESS, TickStatus.FAILURE]
BATCH = 200  # runs read per query


class RetentionSettings(BaseSettings):
    """How long Dagster's history is kept."""

    model_config = SettingsConfigDict(env_prefix="OWNLENS_", extra="ignore", frozen=True)

    # 90s, 30m, 2h, 7d (or seconds), parsed as OWNLENS_VACUUM_RETENTION is
    run_retention: Annotated[timedelta, BeforeValidator(ETLConfig._duration)] = Field(
        default=timedelta(hours=24),
        gt=timedelta(0),
        description="Runs finished longer ago than this are deleted, with their events.",
    )


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one pruning deleted."""

    runs: int
    instigators: int  # sensors and schedules whose old ticks were purged

    def metadata(self) -> dict[str, int]:
        return {"runs_deleted": self.runs, "instigators_purged": self.instigators}


def prune(instance: dg.DagsterInstance, before: datetime) -> Pruned:
    """Delete the runs that finished before `before` (their last update), with their events,
    and the ended ticks and automation evaluations older than it. Runs queued, starting,
    running or canceling stay, however old."""
    runs = 0
    seen: set[str] = set()
    while True:
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, updated_before=before), limit=BATCH
        )
        fresh = [record.dagster_run.run_id for record in records]
        fresh = [run_id for run_id in fresh if run_id not in seen]
        if not fresh:  # none left, or none that would delete (seen once already)
            break
        for run_id in fresh:
            instance.delete_run(run_id)
            _delete_event_file(instance, run_id)
        seen.update(fresh)
        runs += len(fresh)
    cutoff = before.timestamp()
    states = instance.all_instigator_state()
    for state in states:
        instance.purge_ticks(
            state.instigator_origin_id, state.selector_id, before=cutoff, tick_statuses=ENDED_TICKS
        )
    storage = instance.schedule_storage
    if storage is not None and storage.supports_auto_materialize_asset_evaluations:
        storage.purge_asset_evaluations(before=cutoff)
    return Pruned(runs=runs, instigators=len(states))


def _delete_event_file(instance: dg.DagsterInstance, run_id: str) -> None:
    """SQLite keeps a run's events in a file of its own, emptied by `delete_run` but not
    removed (an empty one is ~150 KB): remove it."""
    storage = instance.event_log_storage
    if type(storage) is SqliteEventLogStorage:  # not the consolidated one: a single file
        with contextlib.suppress(FileNotFoundError):
            os.remove(storage.path_for_shard(run_id))


@dg.op
def prune_history(context: dg.OpExecutionContext) -> dict[str, int]:
    """Delete the runs, ticks and automation evaluations older than OWNLENS_RUN_RETENTION."""
    retention = read_settings(RetentionSettings).run_retention
    pruned = prune(context.instance, before=datetime.now(UTC) - retention)
    context.log.info(
        f"deleted {pruned.runs} runs finished more than {retention} ago; "
        f"purged the old ticks of {pruned.instigators} sensors and schedules"
    )
    context.add_output_metadata(pruned.metadata())
    return pruned.metadata()


@dg.job(
    executor_def=dg.in_process_executor,
    description="Delete the runs (with their events), ticks and automation evaluations older "
    "than OWNLENS_RUN_RETENTION (24h by default), so Dagster's storage stays bounded.",
    tags={"ownlens/trigger": "retention"},
)
def prune_dagster_history() -> None:
    prune_history()


def retention_schedule(cron: str = DEFAULT_CRON, running: bool = True) -> dg.ScheduleDefinition:
    """`prune_dagster_history` on `cron` (hourly by default)."""
    return dg.ScheduleDefinition(
        name="prune_dagster_history_schedule",
        job=prune_dagster_history,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if running
        else dg.DefaultScheduleStatus.STOPPED,
        description="Bounded Dagster history: runs, ticks and evaluations past the retention.",
    )


def retention_definitions(running: bool = True, cron: str = DEFAULT_CRON) -> dg.Definitions:
    """The pruning job and its schedule, switched on with `running` (as the sensors are)."""
    return dg.Definitions(
        jobs=[prune_dagster_history], schedules=[retention_schedule(cron, running)]
    )
