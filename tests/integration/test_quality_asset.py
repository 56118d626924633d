"""The data-quality asset: exact metrics of a raw table, and one published metric per raw table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID, uuid4

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.consumer import ConsumedEvent
from ownlens_kafka.envelope import PRODUCED_AT, Headers
from ownlens_kafka.models import QualityMetricCreate, UserEventCreate
from ownlens_kafka.streams import STREAMS, get_stream
from ownlens_pipelines.assets.quality import (
    PLATFORM_BRAND_ID,
    PLATFORM_COMPANY_ID,
    grade,
    raw_table_metrics,
    table_metrics,
)
from ownlens_pipelines.resources import KafkaResource, WarehouseResource
from ownlens_pipelines.schema import events_table
from ownlens_pipelines.warehouse import Warehouse, raw_schema, raw_table
from tests.factories import valid_payload
from tests.helpers import key_of, read_topic, value_of

NOW = datetime(2025, 3, 14, 12, tzinfo=UTC)
USER_EVENTS = get_stream("user_events")


def write_user_events(path: Path, events: list[UserEventCreate], produced_at: datetime) -> None:
    """The events in `raw.user_events`, produced at `produced_at` according to their headers."""
    header: Headers = [(PRODUCED_AT, produced_at.isoformat().encode())]
    items = [
        ConsumedEvent(e, USER_EVENTS.key_of(e), "t", 0, offset, header)
        for offset, e in enumerate(events)
    ]
    written = Warehouse(str(path)).write_raw(USER_EVENTS, events_table(UserEventCreate, items))
    assert written.num_rows == len(events)


def insert_incomplete(path: Path, event_id: UUID | None, user_id: UUID | None) -> None:
    """A row no validated model would let through: a missing key or id, produced 4 h before,
    appended to the Delta table directly (UUIDs are stored as their text)."""
    values: dict[str, Any] = {
        "event_id": None if event_id is None else str(event_id),
        "user_id": None if user_id is None else str(user_id),
        "company_id": str(uuid4()),
        "brand_id": str(uuid4()),
        "session_id": str(uuid4()),
        "event_type": "page_view",
        "_topic": "manual",
        "_partition": 0,
        "_offset": 0,
        "_produced_at": NOW - timedelta(hours=4),
    }
    schema = raw_schema(USER_EVENTS)
    row = pa.table({f.name: pa.array([values.get(f.name)], f.type) for f in schema}, schema=schema)
    write_deltalake(Warehouse(str(path)).uri(raw_table(USER_EVENTS)), row, mode="append")


def user_event(**overrides: Any) -> UserEventCreate:
    return UserEventCreate.model_validate(valid_payload(UserEventCreate, **overrides))


def test_table_metrics_counts_missing_keys_and_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    first, second, third = user_event(), user_event(), user_event()
    write_user_events(path, [first, second, third, first], NOW - timedelta(hours=2))
    insert_incomplete(path, UUID(int=5), None)  # no Kafka key (user_id)
    insert_incomplete(path, None, UUID(int=6))  # no id
    with Warehouse(str(path)).connect([raw_table(USER_EVENTS)]) as connection:
        metrics = table_metrics(connection, USER_EVENTS, date(2025, 3, 14), NOW)
    assert metrics == {
        "table_name": "raw.user_events",
        "domain": "customer",
        "metric_date": date(2025, 3, 14),
        "total_records": 6,
        "null_count": 2,
        "duplicate_count": 2,  # both copies of `first`
        "unique_count": 4,
        "null_percentage": pytest.approx(2 / 6, abs=1e-6),
        "duplicate_percentage": pytest.approx(2 / 6, abs=1e-6),
        "completeness_score": pytest.approx(4 / 6, abs=1e-6),
        "uniqueness_score": pytest.approx(4 / 5),
        "overall_quality_score": pytest.approx((4 / 6 + 4 / 5) / 2, abs=1e-6),
        "quality_grade": "D",
        "avg_data_age_hours": pytest.approx((4 * 2 + 2 * 4) / 6, abs=1e-3),
    }


def test_table_metrics_of_an_empty_table_measure_nothing(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "lake"))
    warehouse.ensure_raw_table(USER_EVENTS)
    with warehouse.connect([raw_table(USER_EVENTS)]) as connection:
        metrics = table_metrics(connection, USER_EVENTS, date(2025, 3, 14), NOW)
    assert metrics["total_records"] == metrics["null_count"] == metrics["duplicate_count"] == 0
    assert metrics["overall_quality_score"] is None and metrics["quality_grade"] is None
    assert metrics["avg_data_age_hours"] is None


@pytest.mark.parametrize(
    ("score", "letter"), [(1.0, "A"), (0.95, "A"), (0.9, "B"), (0.8, "C"), (0.7, "D"), (0.2, "F")]
)
def test_grade(score: float, letter: str) -> None:
    assert grade(score) == letter


def test_asset_publishes_one_valid_metric_per_raw_table(
    tmp_path: Path, kafka_config: KafkaConfig, make_topics: Callable[..., list[str]]
) -> None:
    make_topics(get_stream("quality_metrics"))
    path = tmp_path / "lake"
    warehouse = Warehouse(str(path))
    for spec in STREAMS:
        warehouse.ensure_raw_table(spec)
    write_user_events(path, [user_event() for _ in range(3)], datetime.now(UTC))
    kafka = KafkaResource(
        bootstrap_servers=kafka_config.bootstrap_servers,
        namespace=kafka_config.namespace,
        session_timeout_ms=kafka_config.session_timeout_ms,
        heartbeat_interval_ms=kafka_config.heartbeat_interval_ms,
    )
    result = dg.materialize(
        [raw_table_metrics],
        resources={"warehouse": WarehouseResource(root=str(path)), "kafka": kafka},
    )
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["tables_measured"].value == len(STREAMS)
    assert metadata["delivered"].value == len(STREAMS)
    # JSON metadata is typed as any JSON value; the asset writes {partition: {first, last}}.
    offsets = cast(dict[str, dict[str, int]], metadata["offsets"].value)
    assert sum(o["last"] - o["first"] + 1 for o in offsets.values()) == len(STREAMS)

    topic = kafka_config.topic_name(get_stream("quality_metrics").topic)
    messages = read_topic(kafka_config, topic, expected=len(STREAMS))
    metrics = [QualityMetricCreate.model_validate_json(value_of(m)) for m in messages]
    today = datetime.now(UTC).date()
    by_table = {m.table_name: m for m in metrics}
    assert len(metrics) == len(STREAMS)
    assert set(by_table) == {raw_table(spec) for spec in STREAMS}
    for spec in STREAMS:
        metric = by_table[raw_table(spec)]
        assert (metric.company_id, metric.brand_id) == (PLATFORM_COMPANY_ID, PLATFORM_BRAND_ID)
        assert (metric.domain, metric.metric_date) == (spec.domain, today)
    assert {key_of(m).decode() for m in messages} == {f"{t}_{today}" for t in by_table}
    events = by_table["raw.user_events"]
    assert (events.total_records, events.unique_count, events.null_count) == (3, 3, 0)
    assert (events.overall_quality_score, events.quality_grade) == (1.0, "A")
    assert by_table["raw.sessions"].total_records == 0
