"""The code location's single composition root (`dagster dev -w workspace.yaml`)."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg


def _from_env(prefix: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """Bind each field set in the environment to its variable, read when a run launches."""
    names = {field: f"{prefix}{field.upper()}" for field in fields}
    return {
        field: dg.EnvVar.int(name) if field.endswith("_ms") else dg.EnvVar(name)
        for field, name in names.items()
        if name in os.environ
    }


@dg.definitions
def defs() -> dg.Definitions:
    """Every stream's raw asset, checks, job and sensor; domain assets; resources."""
    from ownlens_kafka.streams import STREAMS
    from ownlens_pipelines.assets.domain import domain_assets
    from ownlens_pipelines.assets.quality import raw_table_metrics
    from ownlens_pipelines.factory import stream_definitions
    from ownlens_pipelines.ops import etl_jobs
    from ownlens_pipelines.resources import KafkaResource, WarehouseResource
    from ownlens_pipelines.settings import ETLConfig

    settings = ETLConfig()
    kafka = KafkaResource(**_from_env("KAFKA_", tuple(KafkaResource.model_fields)))
    path = _from_env("OWNLENS_", ("warehouse",)).get("warehouse")
    warehouse = WarehouseResource(path=path) if path else WarehouseResource()
    return dg.Definitions.merge(
        *(stream_definitions(spec, settings) for spec in STREAMS),
        dg.Definitions(
            assets=[*domain_assets(), raw_table_metrics],
            jobs=etl_jobs(),
            sensors=[
                dg.AutomationConditionSensorDefinition(
                    "domain_assets_automation",
                    target=dg.AssetSelection.all(),
                    default_status=dg.DefaultSensorStatus.RUNNING
                    if settings.sensors_running
                    else dg.DefaultSensorStatus.STOPPED,
                    minimum_interval_seconds=max(settings.sensor_interval, 10),
                    description="Rebuilds domain assets after the raw tables they read change.",
                )
            ],
            resources={"kafka": kafka, "warehouse": warehouse},
        ),
    )
