"""The code location's single composition root (`workspace.yaml`, `[tool.dagster]`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, get_args

import dagster as dg


def _from_env(prefix: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Bind each field (name: annotation) set in the environment to its variable, read when a
    run launches; an int field's variable is read as an int."""
    bound: dict[str, Any] = {}
    for field, annotation in fields.items():
        name = f"{prefix}{field.upper()}"
        if name in os.environ:
            is_int = annotation is int or int in get_args(annotation)
            bound[field] = dg.EnvVar.int(name) if is_int else dg.EnvVar(name)
    return bound


@dg.definitions
def defs() -> dg.Definitions:
    """The raw assets with their checks, job and lag sensor; domain assets and their automation;
    the quality asset; the ETL and reprocessing jobs; resources."""
    from ownlens_kafka.streams import STREAMS
    from ownlens_pipelines.assets.domain import domain_assets, rebuild_domain_tables
    from ownlens_pipelines.assets.quality import raw_table_metrics
    from ownlens_pipelines.factory import ingest_definitions
    from ownlens_pipelines.maintenance import maintain_warehouse, maintenance_schedule
    from ownlens_pipelines.ops import etl_jobs
    from ownlens_pipelines.reprocess import reprocessing_jobs
    from ownlens_pipelines.resources import KafkaResource, WarehouseResource
    from ownlens_pipelines.retention import retention_definitions
    from ownlens_pipelines.sensors import AutomationSettings
    from ownlens_pipelines.settings import ETLConfig

    settings, automation = ETLConfig(), AutomationSettings()
    fields = {name: info.annotation for name, info in KafkaResource.model_fields.items()}
    kafka = KafkaResource(**_from_env("KAFKA_", fields))
    path = _from_env("OWNLENS_", {"warehouse": str}).get("warehouse")
    warehouse = WarehouseResource(root=path) if path else WarehouseResource()
    return dg.Definitions.merge(
        ingest_definitions(STREAMS, settings, automation),
        retention_definitions(running=settings.sensors_running),
        dg.Definitions(
            assets=[*domain_assets(), raw_table_metrics],
            jobs=[
                *etl_jobs(),
                *reprocessing_jobs(),
                rebuild_domain_tables,
                maintain_warehouse,
            ],
            schedules=[maintenance_schedule()],
            sensors=[
                dg.AutomationConditionSensorDefinition(
                    "domain_assets_automation",
                    # the raw assets have no condition: evaluating them would only store ticks
                    target=dg.AssetSelection.all() - dg.AssetSelection.key_prefixes(["raw"]),
                    default_status=dg.DefaultSensorStatus.RUNNING
                    if settings.sensors_running
                    else dg.DefaultSensorStatus.STOPPED,
                    minimum_interval_seconds=automation.domain_interval,
                    description="Rebuilds, in one run, the domain tables whose raw tables changed "
                    "(at most every OWNLENS_DOMAIN_INTERVAL seconds), and the quality metrics.",
                )
            ],
            resources={"kafka": kafka, "warehouse": warehouse},
            # one process per run: steps after one another
            executor=dg.in_process_executor,
        ),
    )
