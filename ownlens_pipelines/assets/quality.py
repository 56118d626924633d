"""The platform reporting on itself: today's quality metrics of every raw table, published to the
quality-metrics stream like any other producer's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import NAMESPACE_DNS, UUID, uuid5

import dagster as dg
import duckdb
import pandas as pd

from ownlens_kafka.models import QualityMetricCreate
from ownlens_kafka.streams import STREAMS, StreamSpec, get_stream
from ownlens_pipelines.assets.domain import markdown_table
from ownlens_pipelines.assets.raw import raw_key
from ownlens_pipelines.etl.loader import KafkaLoader, LoadResult
from ownlens_pipelines.resources import KafkaResource, WarehouseResource
from ownlens_pipelines.warehouse import RAW_SCHEMA, raw_table

# The platform is not a tenant: its metrics carry fixed ids derived from one constant name.
PLATFORM_COMPANY_ID: UUID = uuid5(NAMESPACE_DNS, "platform.ownlens")
PLATFORM_BRAND_ID: UUID = uuid5(PLATFORM_COMPANY_ID, "data-platform")

GRADES = ((0.95, "A"), (0.90, "B"), (0.80, "C"), (0.70, "D"))
PREVIEW_COLUMNS = (
    "table_name",
    "total_records",
    "null_count",
    "duplicate_count",
    "unique_count",
    "overall_quality_score",
    "quality_grade",
    "avg_data_age_hours",
)
METRICS_STREAM = "quality_metrics"
CADENCE = "*/5 * * * *"
_TICK = dg.AutomationCondition.cron_tick_passed(CADENCE)
_HANDLED = (
    dg.AutomationCondition.newly_requested()
    | dg.AutomationCondition.newly_updated()
    | dg.AutomationCondition.initial_evaluation()
)
# A first measurement as soon as raw data arrives, then one every five minutes if a raw table
# changed, not on every ingest. Its own output lands in raw.quality_metrics, so that table must
# not be what triggers it.
AUTOMATION = (
    (
        (
            _TICK.since(_HANDLED)
            & dg.AutomationCondition.any_deps_match(
                dg.AutomationCondition.newly_updated().since(_TICK)
            )
        ).with_label("every 5 minutes, if a raw table changed")
        | (dg.AutomationCondition.missing() & dg.AutomationCondition.any_deps_updated()).with_label(
            "first raw data"
        )
    )
    & ~dg.AutomationCondition.in_progress()
).ignore(dg.AssetSelection.assets(raw_key(get_stream(METRICS_STREAM))))


def grade(score: float | None) -> str | None:
    """A for >= 0.95, B >= 0.90, C >= 0.80, D >= 0.70, otherwise F; None when not measured."""
    if score is None:
        return None
    return next((letter for floor, letter in GRADES if score >= floor), "F")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def table_metrics(
    connection: duckdb.DuckDBPyConnection,
    spec: StreamSpec,
    today: date,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Today's metrics of `raw.<stream>` as QualityMetricCreate fields (company and brand aside).

    null_count: rows missing a Kafka key field or the id; duplicate_count: rows whose identity
    (id, and version for versioned entities) appears more than once; scores are ratios (None
    for an empty table); data age is measured at `now`.
    """
    table, id_field, identity = raw_table(spec), spec.id_field, ", ".join(spec.identity)
    missing = " OR ".join(f"{name} IS NULL" for name in (*spec.key_fields, id_field))
    counts = connection.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE {missing}), count({id_field}),
                   count(DISTINCT ({identity})) FILTER (WHERE {id_field} IS NOT NULL),
                   avg(epoch(CAST(? AS TIMESTAMPTZ) - _produced_at))
            FROM {table}""",
        [now or datetime.now(UTC)],
    ).fetchone()
    duplicates = connection.execute(
        f"""SELECT coalesce(sum(n), 0) FROM (
                SELECT count(*) AS n FROM {table} WHERE {id_field} IS NOT NULL
                GROUP BY {identity} HAVING count(*) > 1)"""
    ).fetchone()
    assert counts is not None and duplicates is not None  # aggregates always return a row
    total, nulls, with_id, unique, age_seconds = counts
    duplicate_count = int(duplicates[0])
    null_ratio = _ratio(nulls, total)
    completeness = None if null_ratio is None else round(1 - null_ratio, 6)
    uniqueness = _ratio(unique, with_id)
    scores = [s for s in (completeness, uniqueness) if s is not None]
    overall = round(sum(scores) / len(scores), 6) if scores else None
    return {
        "table_name": table,
        "domain": spec.domain,
        "metric_date": today,
        "total_records": total,
        "null_count": nulls,
        "duplicate_count": duplicate_count,
        "unique_count": unique,
        "null_percentage": null_ratio,
        "duplicate_percentage": _ratio(duplicate_count, total),
        "completeness_score": completeness,
        "uniqueness_score": uniqueness,
        "overall_quality_score": overall,
        "quality_grade": grade(overall),
        "avg_data_age_hours": None if age_seconds is None else round(max(age_seconds, 0) / 3600, 3),
    }


def existing_raw_tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the streams whose raw table exists."""
    rows = connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [RAW_SCHEMA]
    ).fetchall()
    return {name for (name,) in rows}


def measure(
    connection: duckdb.DuckDBPyConnection, today: date, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The metrics of every raw table that exists, in stream-table order."""
    present = existing_raw_tables(connection)
    return [table_metrics(connection, s, today, now) for s in STREAMS if s.name in present]


def metrics_frame(metrics: list[dict[str, Any]]) -> pd.DataFrame:
    """The metrics as QualityMetricCreate columns, scoped to the platform company and brand."""
    rows = [
        {"company_id": PLATFORM_COMPANY_ID, "brand_id": PLATFORM_BRAND_ID, **row} for row in metrics
    ]
    present = {"company_id", "brand_id", *(metrics[0] if metrics else ())}
    columns = [name for name in QualityMetricCreate.model_fields if name in present]
    return pd.DataFrame(rows, columns=columns)


def publish(frame: pd.DataFrame, kafka: KafkaResource) -> LoadResult:
    """Validate and publish the metrics; the producer is released afterwards."""
    loader = KafkaLoader(get_stream(METRICS_STREAM), kafka.kafka_config())
    try:
        return loader.load(frame)
    finally:
        loader.producer.close()


def _preview(frame: pd.DataFrame) -> str:
    columns = [c for c in PREVIEW_COLUMNS if c in frame.columns]
    rows = frame[columns].astype(object).where(frame[columns].notna(), None)
    return markdown_table(columns, list(rows.itertuples(index=False, name=None)))


@dg.asset(
    key=["data_quality", "raw_table_metrics"],
    deps=[raw_key(spec) for spec in STREAMS],
    group_name="data_quality",
    kinds={"deltalake", "kafka"},
    owners=["team:data_quality"],
    automation_condition=AUTOMATION,
)
def raw_table_metrics(
    warehouse: WarehouseResource, kafka: KafkaResource
) -> dg.MaterializeResult[Any]:
    """Today's quality of every raw table (records, missing keys, duplicate ids, completeness,
    uniqueness, grade, data age), published to the quality-metrics stream."""
    now = datetime.now(UTC)
    with warehouse.warehouse().connect([raw_table(s) for s in STREAMS]) as connection:
        metrics = measure(connection, now.date(), now)
    frame = metrics_frame(metrics)
    result = publish(frame, kafka)
    metadata: dict[str, Any] = {
        "tables_measured": len(frame),
        "delivered": result.delivered,
        "topic": result.topic,
        "offsets": dg.MetadataValue.json(
            {str(p): {"first": first, "last": last} for p, (first, last) in result.offsets.items()}
        ),
        "preview": dg.MetadataValue.md(_preview(frame)),
    }
    if result.failures:
        reasons = "; ".join(
            f"{metrics[f.index]['table_name']}: {f.reason}" for f in result.failures
        )
        raise dg.Failure(
            description=f"{len(result.failures)} of {len(frame)} metrics not published: {reasons}",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)
