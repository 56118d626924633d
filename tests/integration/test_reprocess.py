"""Reprocessing a range of a stream: rows back without duplicates, the live group untouched."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer
from deltalake import DeltaTable

import ownlens_pipelines.cli  # noqa: F401  (adds reprocess to `cli`)
from ownlens_kafka import UserEventProducer, get_stream
from ownlens_kafka.cli import cli
from ownlens_kafka.config import reset_config
from ownlens_kafka.lag import group_lag
from ownlens_kafka.positions import Position
from ownlens_pipelines.etl import KafkaExtractor
from ownlens_pipelines.reprocess import replay_stream_dead_letters, reprocess, reprocess_stream
from ownlens_pipelines.resources import KafkaResource, WarehouseResource
from ownlens_pipelines.settings import ETLConfig
from tests.factories import valid_payload
from tests.helpers import delta_copy, read_topic

SPEC = get_stream("user_events")


@pytest.fixture
def etl(kafka_config, make_topics, tmp_path) -> ETLConfig:
    make_topics(SPEC)
    return ETLConfig(kafka=kafka_config, warehouse=str(tmp_path / "lake"), batch_size=7)


def publish(etl: ETLConfig, count: int) -> None:
    with UserEventProducer(etl.kafka) as producer:
        assert producer.publish_batch(valid_payload(SPEC.model) for _ in range(count)).ok


def table(etl: ETLConfig, sql: str) -> list[tuple[Any, ...]]:
    with delta_copy(etl.warehouse, "raw.user_events") as connection:
        return connection.execute(sql).fetchall()


def committed(etl: ETLConfig) -> dict[int, int | None]:
    topic = etl.kafka.topic_name(SPEC.topic)
    return {p.partition: p.committed for p in group_lag(etl.kafka, {SPEC.group_id: [topic]})}


def drop_rows(etl: ETLConfig) -> None:
    DeltaTable(f"{etl.warehouse}/raw/user_events").delete()


def test_a_dropped_table_comes_back_once_and_the_live_group_does_not_move(etl) -> None:
    publish(etl, 30)
    assert KafkaExtractor(SPEC, etl).run().rows_written == 30
    live = committed(etl)
    drop_rows(etl)
    result = reprocess(SPEC, etl, Position(offset=0))
    again = reprocess(SPEC, etl, Position(offset=0))  # idempotent: replaces the same rows
    assert (result.rows_written, again.rows_written, result.caught_up) == (30, 30, True)
    assert table(
        etl,
        "SELECT count(*), count(DISTINCT (_topic_id, _partition, _offset)) FROM raw.user_events",
    ) == [(30, 30)]
    assert committed(etl) == live


def test_a_range_stops_before_its_end(etl) -> None:
    publish(etl, 60)
    result = reprocess(SPEC, etl, Position(offset=2), Position(offset=5))
    per_partition = table(
        etl,
        "SELECT _partition, min(_offset), max(_offset), count(*) FROM raw.user_events "
        "GROUP BY ALL ORDER BY 1",
    )
    assert {row[1:] for row in per_partition} == {(2, 4, 3)}
    assert result.rows_written == 3 * len(per_partition)
    assert all(value is None for value in committed(etl).values())  # live group never read


def test_a_time_range_starts_at_the_first_record_at_or_after_it(etl) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    publish(etl, 12)
    assert reprocess(SPEC, etl, Position(at=before)).rows_written == 12
    after = datetime.now(UTC) + timedelta(minutes=5)  # no record at or after it: nothing to read
    assert reprocess(SPEC, etl, Position(at=after)).lag_before == 0


def test_records_invalid_under_the_model_are_lettered_once(etl) -> None:
    raw = Producer(etl.kafka.producer_config())
    raw.produce(etl.kafka.topic_name(SPEC.topic), b"{broken", key=b"k", partition=0)
    assert raw.flush(10) == 0
    publish(etl, 5)
    assert KafkaExtractor(SPEC, etl).run().dead_lettered == 1
    reprocess(SPEC, etl, Position(offset=0))  # the letter exists: not written again
    dlq = etl.kafka.topic_name(SPEC.dlq_topic)
    assert len(read_topic(etl.kafka, dlq, 1)) == 1


def test_the_command_prints_a_summary_and_rejects_a_bad_position(etl, monkeypatch) -> None:
    publish(etl, 9)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", etl.kafka.bootstrap_servers)
    monkeypatch.setenv("KAFKA_NAMESPACE", etl.kafka.namespace)
    monkeypatch.setenv("OWNLENS_WAREHOUSE", etl.warehouse)
    reset_config()
    runner = CliRunner()
    done = runner.invoke(cli, ["reprocess", "user_events", "--from", "0", "--json", "--quiet"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert (summary["rows_written"], summary["complete"]) == (9, True)
    bad = runner.invoke(cli, ["reprocess", "user_events", "--from", "yesterday"])
    assert bad.exit_code == 2 and "neither an offset nor an ISO 8601 time" in bad.output
    assert "Traceback" not in bad.output


def test_the_jobs_run_in_dagster_with_their_launchpad_config(etl) -> None:
    publish(etl, 4)
    resources = {
        "kafka": KafkaResource(
            bootstrap_servers=etl.kafka.bootstrap_servers,
            namespace=etl.kafka.namespace,
            session_timeout_ms=etl.kafka.session_timeout_ms,
            heartbeat_interval_ms=etl.kafka.heartbeat_interval_ms,
        ),
        "warehouse": WarehouseResource(root=etl.warehouse),
    }
    result = reprocess_stream.execute_in_process(resources=resources)  # the launchpad default
    assert result.success
    assert result.output_for_node("reprocess_range")["rows_written"] == 4
    replayed = replay_stream_dead_letters.execute_in_process(resources=resources)
    assert replayed.success
    assert replayed.output_for_node("replay_dead_letters")["still_failing"] == 0
    assert isinstance(reprocess_stream, dg.JobDefinition)
