"""The stream table expanded into Dagster definitions: the raw assets with their checks, the
ingest job (a backlog, on demand), the follow job (long-lived) and the lag sensor that starts it."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.assets.raw import build_raw_assets, raw_key
from ownlens_pipelines.ingestion import build_follow_job
from ownlens_pipelines.sensors import AutomationSettings, build_lag_sensor
from ownlens_pipelines.settings import ETLConfig

INGEST_JOB = "ingest"


def ingest_definitions(
    specs: Sequence[StreamSpec], settings: ETLConfig, automation: AutomationSettings
) -> dg.Definitions:
    """Everything Dagster knows about the streams, derived from their rows in the table."""
    job = dg.define_asset_job(
        name=INGEST_JOB,
        selection=dg.AssetSelection.assets(*(raw_key(spec) for spec in specs)),
        executor_def=dg.in_process_executor,
        description="Extract the selected streams' backlogs into their raw tables and check them, "
        "once (pick streams with the asset selection).",
    )
    follow = build_follow_job(specs, automation.freshness_bound)
    return dg.Definitions(
        assets=[build_raw_assets(specs, automation.freshness_bound)],
        jobs=[job, follow],
        sensors=[
            build_lag_sensor(
                follow, specs, interval=settings.sensor_interval, running=settings.sensors_running
            )
        ],
    )
