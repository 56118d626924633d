"""`ownlens run`: one in-process pass over the real definitions, and its summary."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from ownlens_kafka.cli_errors import NO_SPACE
from ownlens_kafka.streams import STREAMS

QUALITY_PUBLISHER = dg.AssetKey(["data_quality", "raw_table_metrics"])
# The command prints one line per failed step itself: Dagster's console would add tracebacks.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """One stream's figures from a run."""

    stream: str
    consumed: int
    rows_written: int
    dead_lettered: int
    lag_after: int
    caught_up: bool


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did: per stream, assets materialized, failed checks and failed steps."""

    success: bool
    streams: list[StreamSummary]
    assets: int
    failed_checks: list[str]
    failures: list[str] = field(default_factory=list)  # `step: first line of its error`

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_checks and all(s.caught_up for s in self.streams)


def instance() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance when there is one (so the UI sees the run), else a throwaway."""
    return (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else (dg.DagsterInstance.ephemeral())
    )


def run_once(publish_quality: bool = False, full_rebuild: bool = False) -> RunSummary:
    """Materialize every raw asset (extract to the end offsets seen now) and every domain asset
    (refreshed from the changes, or rebuilt with `full_rebuild`), with their checks, in this
    process."""
    from ownlens_pipelines.definitions import defs as load

    defs = load()
    selection: dg.AssetSelection = dg.AssetSelection.all()
    if not publish_quality:  # it publishes to a stream: the next pass would ingest that
        selection = selection - dg.AssetSelection.assets(QUALITY_PUBLISHER)
    result = dg.materialize(
        [*(defs.assets or []), *(defs.asset_checks or [])],  # type: ignore[list-item]
        resources=defs.resources,
        instance=instance(),
        selection=selection,
        run_config={**QUIET, "ops": {"domain_tables": {"config": {"full": full_rebuild}}}},
        raise_on_error=False,
        tags={"ownlens/trigger": "ownlens run"},
    )
    metadata: dict[dg.AssetKey, dict[str, Any]] = {
        event.asset_key: {
            k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
        if event.asset_key
    }
    streams = []
    for spec in STREAMS:
        values = metadata.get(dg.AssetKey(["raw", spec.name]), {})
        written, dead = int(values.get("rows_written", 0)), int(values.get("dead_lettered", 0))
        streams.append(
            StreamSummary(
                spec.name,
                written + dead,
                written,
                dead,
                int(values.get("lag_after", -1)),
                bool(values.get("caught_up", False)),
            )
        )
    failed = [
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    failures = [
        f"{event.step_key}: {_cause(event.step_failure_data.error)}"
        for event in result.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    return RunSummary(result.success, streams, len(metadata), failed, failures)


def _cause(error: SerializableErrorInfo) -> str:
    """The telling line of a step's error: a full disk wherever it shows in the chain (a failed
    ROLLBACK hides it at the top), else the error's first line."""
    pending: list[SerializableErrorInfo] = [error]
    while pending:
        link = pending.pop()
        for line in link.message.splitlines():
            if NO_SPACE in line:
                return line.strip()
        pending += [e for e in (link.cause, link.context) if e is not None]
    lines = error.message.strip().splitlines()
    return lines[0] if lines else error.cls_name or "failed"
