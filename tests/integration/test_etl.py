"""KafkaExtractor and KafkaLoader on the embedded broker and real Delta tables."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from confluent_kafka import Producer

from ownlens_kafka import UserEventProducer, get_stream
from ownlens_kafka.models import UserEventCreate
from ownlens_pipelines.etl import KafkaExtractor, KafkaLoader
from ownlens_pipelines.settings import ETLConfig
from tests.conftest import wait_for
from tests.factories import valid_payload
from tests.helpers import delta_copy, one_row

SPEC = get_stream("user_events")


@pytest.fixture
def etl(kafka_config, make_topics, tmp_path) -> ETLConfig:
    make_topics(SPEC)
    return ETLConfig(
        kafka=kafka_config,
        warehouse=str(tmp_path / "lake"),
        batch_size=7,
        idle_timeout=5,
    )


def publish(etl: ETLConfig, count: int) -> list[UserEventCreate]:
    with UserEventProducer(etl.kafka) as producer:
        return [producer.publish(valid_payload(SPEC.model)) for _ in range(count)]


def rows(
    etl: ETLConfig, sql: str = "SELECT count(*) FROM raw.user_events"
) -> list[tuple[Any, ...]]:
    with delta_copy(etl.warehouse, "raw.user_events") as connection:
        return connection.execute(sql).fetchall()


def test_extracts_the_backlog_once(etl: ETLConfig) -> None:
    sent = publish(etl, 25)
    first = KafkaExtractor(SPEC, etl).run()
    assert (first.rows_written, first.lag_before, first.lag_after) == (25, 25, 0)
    assert first.batches >= 4  # batch_size 7: memory bounded by the batch, not the backlog
    assert sum(last - start + 1 for start, last in first.offsets.values()) == 25
    ids = {row[0] for row in rows(etl, "SELECT event_id FROM raw.user_events")}
    assert ids == {str(e.event_id) for e in sent}  # UUIDs are stored as their text
    second = KafkaExtractor(SPEC, etl).run()
    assert (second.rows_written, second.batches, second.rows_total) == (0, 0, 25)
    publish(etl, 3)
    assert KafkaExtractor(SPEC, etl).run().rows_written == 3
    assert rows(etl) == [(28,)]


def test_typed_columns_and_kafka_metadata(etl: ETLConfig) -> None:
    [event] = publish(etl, 1)
    KafkaExtractor(SPEC, etl).run()
    with delta_copy(etl.warehouse, "raw.user_events") as connection:
        types = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'user_events'"
            ).fetchall()
        )
        row = one_row(
            connection,
            "SELECT user_id, event_timestamp, event_date, _key, _producer, "
            "_schema_version, engagement_metrics FROM raw.user_events",
        )
    # Delta has no UUID or JSON type: both are stored as their text
    assert types["user_id"] == "VARCHAR" and types["event_timestamp"] == "TIMESTAMP WITH TIME ZONE"
    assert types["event_date"] == "DATE" and types["_offset"] == "BIGINT"
    assert types["engagement_metrics"] == "VARCHAR"
    assert row[0] == str(event.user_id) and row[1] == event.event_timestamp
    assert row[2] == event.event_date and row[3] == str(event.user_id)
    assert row[4] == "ownlens/UserEventProducer" and row[5] == 1
    assert json.loads(row[6]) == event.engagement_metrics


def test_crash_between_write_and_commit_adds_no_row_twice(etl: ETLConfig) -> None:
    publish(etl, 20)

    def crash(step: str) -> None:
        if step == "rows":
            raise RuntimeError("killed after the warehouse write, before the commit")

    with pytest.raises(RuntimeError, match="killed"):
        KafkaExtractor(SPEC, etl, on_step=crash).run()
    assert rows(etl)[0][0] > 0  # the first batch was written but not committed
    result = KafkaExtractor(SPEC, etl).run()
    assert result.lag_after == 0
    assert rows(
        etl,
        "SELECT count(*), count(DISTINCT (_partition, _offset)), "
        "count(DISTINCT event_id) FROM raw.user_events",
    ) == [(20, 20, 20)]


def test_invalid_records_are_dead_lettered_and_counted(etl: ETLConfig) -> None:
    publish(etl, 4)
    raw = Producer(etl.kafka.producer_config())
    topic = etl.kafka.topic_name(SPEC.topic)
    raw.produce(topic, b"{broken", key=b"k")
    raw.produce(topic, json.dumps(valid_payload(SPEC.model, user_id="x")).encode(), key=b"k")
    assert raw.flush(10) == 0
    result = KafkaExtractor(SPEC, etl).run()
    assert (result.rows_written, result.dead_lettered, result.lag_after) == (4, 2, 0)


def test_max_records_bounds_a_run(etl: ETLConfig) -> None:
    publish(etl, 30)
    bounded = etl.model_copy(update={"max_records": 10, "batch_size": 4})
    result = KafkaExtractor(SPEC, bounded).run()
    assert result.rows_written == 10 and result.lag_after == 20


def test_loader_round_trip_through_the_extractor(etl: ETLConfig) -> None:
    models = [SPEC.model.model_validate(valid_payload(SPEC.model)) for _ in range(6)]
    frame = pd.DataFrame([m.model_dump() for m in models], index=range(100, 106))
    loaded = KafkaLoader(SPEC, etl.kafka).load(frame)
    assert (loaded.rows, loaded.delivered, loaded.failures) == (6, 6, [])
    assert sum(last - first + 1 for first, last in loaded.offsets.values()) == 6
    KafkaExtractor(SPEC, etl).run()
    with delta_copy(etl.warehouse, "raw.user_events") as connection:
        back = connection.execute("SELECT * FROM raw.user_events").df()
    again = KafkaLoader(SPEC, etl.kafka).records(back)
    assert sorted(SPEC.model.model_validate(r).model_dump_json() for r in again) == sorted(
        m.model_dump_json() for m in models
    )


def test_loader_reports_bad_rows_by_index(etl: ETLConfig) -> None:
    good = valid_payload(SPEC.model)
    frame = pd.DataFrame(
        [good, {**valid_payload(SPEC.model), "event_type": "teleport"}], index=["a", "b"]
    )
    result = KafkaLoader(SPEC, etl.kafka).load(frame)
    assert result.delivered == 1
    assert [(f.index, f.label) for f in result.failures] == [(1, "b")]  # position and label
    assert "event_type" in result.failures[0].reason


def test_a_recreated_topic_adds_to_the_history_instead_of_replacing_it(etl: ETLConfig) -> None:
    from confluent_kafka.admin import AdminClient

    from ownlens_kafka import create_topics

    publish(etl, 5)
    assert KafkaExtractor(SPEC, etl).run().rows_written == 5
    admin = AdminClient(etl.kafka.connection_config())
    topic = etl.kafka.topic_name(SPEC.topic)
    for future in admin.delete_topics([topic], operation_timeout=10).values():
        future.result()
    # Kafka forgets a deleted topic's committed offsets too
    for future in admin.delete_consumer_groups([etl.kafka.group_name(SPEC.group_id)]).values():
        future.result()
    wait_for(lambda: topic not in admin.list_topics(timeout=5).topics, what="topic deleted")
    create_topics(etl.kafka, [SPEC])
    publish(etl, 3)  # offsets start at 0 again
    assert KafkaExtractor(SPEC, etl).run().rows_written == 3
    assert rows(etl, "SELECT count(*), count(DISTINCT _topic_id) FROM raw.user_events") == [(8, 2)]
