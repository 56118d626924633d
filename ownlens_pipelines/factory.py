"""One stream spec expanded into its Dagster definitions: raw asset, checks, job, sensor."""

from __future__ import annotations

import dagster as dg

from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.assets.raw import build_raw_asset, build_raw_checks, raw_key
from ownlens_pipelines.sensors import build_lag_sensor
from ownlens_pipelines.settings import ETLConfig


def ingest_job_name(spec: StreamSpec) -> str:
    return f"ingest_{spec.name}"


def stream_definitions(spec: StreamSpec, settings: ETLConfig) -> dg.Definitions:
    """Everything Dagster knows about one stream, derived from its row in the table."""
    job = dg.define_asset_job(
        name=ingest_job_name(spec),
        selection=dg.AssetSelection.assets(raw_key(spec)),
        executor_def=dg.in_process_executor,
        description=f"Extract `{spec.topic}` into `raw.{spec.name}` and check it.",
        tags={"ownlens/stream": spec.name},
    )
    return dg.Definitions(
        assets=[build_raw_asset(spec)],
        asset_checks=build_raw_checks(spec),
        jobs=[job],
        sensors=[
            build_lag_sensor(
                spec, job, interval=settings.sensor_interval, running=settings.sensors_running
            )
        ],
    )
