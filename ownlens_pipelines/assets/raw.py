"""Raw assets: one per stream, materialized by the KafkaExtractor, with their checks."""

from datetime import timedelta
from typing import Any

import dagster as dg

from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.etl.extractor import KafkaExtractor
from ownlens_pipelines.resources import IngestConfig, KafkaResource, WarehouseResource
from ownlens_pipelines.schema import table_columns
from ownlens_pipelines.warehouse import raw_table

FRESHNESS = timedelta(hours=24)
POOL = "ownlens_warehouse"  # DuckDB has one writer process at a time


def raw_key(spec: StreamSpec) -> dg.AssetKey:
    return dg.AssetKey(["raw", spec.name])


def column_schema(spec: StreamSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.sql_type) for c in table_columns(spec.model)]
    )


def build_raw_asset(spec: StreamSpec) -> dg.AssetsDefinition:
    """`raw/<stream>`: the stream's events, extracted from Kafka into `raw.<stream>`."""

    @dg.asset(
        key=raw_key(spec),
        group_name=spec.domain,
        kinds={"kafka", "duckdb", "pandas"},
        owners=[f"team:{spec.domain}"],
        pool=POOL,
        description=f"{spec.description} Events of topic `{spec.topic}`, one row each.",
        metadata={
            "topic": spec.topic,
            "consumer_group": spec.group_id,
            "dead_letter_topic": spec.dlq_topic,
            "kafka_key": spec.key_label,
            "model": spec.model.__name__,
            "dagster/table_name": raw_table(spec),
            "dagster/column_schema": column_schema(spec),
        },
    )
    def raw_asset(
        config: IngestConfig, kafka: KafkaResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult[Any]:
        result = KafkaExtractor(spec, config.etl(kafka, warehouse)).run()
        return dg.MaterializeResult(metadata=result.metadata())

    return raw_asset


def _scalar(warehouse: WarehouseResource, sql: str) -> Any:
    with warehouse.warehouse().connect() as connection:
        row = connection.execute(sql).fetchone()
    return row[0] if row else None


def build_raw_checks(spec: StreamSpec) -> list[dg.AssetChecksDefinition]:
    """Keys present, ids unique, newest event recent."""
    table, key = raw_table(spec), raw_key(spec)
    required = " OR ".join(f"{name} IS NULL" for name in (*spec.key_fields, spec.id_field))

    @dg.asset_check(
        asset=key,
        name="keys_not_null",
        blocking=False,
        description=f"Every row has its Kafka key ({spec.key_label}) and {spec.id_field}.",
    )
    def keys_not_null(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        missing = int(_scalar(warehouse, f"SELECT count(*) FROM {table} WHERE {required}"))
        return dg.AssetCheckResult(passed=missing == 0, metadata={"rows_missing_keys": missing})

    identity = ", ".join(spec.identity)

    @dg.asset_check(asset=key, name="unique_ids", description=f"No ({identity}) appears twice.")
    def unique_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        duplicates = int(
            _scalar(warehouse, f"SELECT count(*) - count(DISTINCT ({identity})) FROM {table}")
        )
        return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicates": duplicates})

    @dg.asset_check(
        asset=key, name="fresh", description=f"The newest event was produced within {FRESHNESS}."
    )
    def fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        age = _scalar(warehouse, f"SELECT epoch(now() - max(_produced_at)) FROM {table}")
        hours = None if age is None else round(float(age) / 3600, 2)
        passed = hours is not None and hours <= FRESHNESS.total_seconds() / 3600
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"newest_event_age_hours": hours},
        )

    return [keys_not_null, unique_ids, fresh]
