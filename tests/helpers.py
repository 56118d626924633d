"""Test helpers that talk to the broker (drain a consumer, read a topic raw) or the warehouse."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import duckdb
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.consumer import BaseKafkaConsumer, ConsumedEvent
from ownlens_kafka.envelope import Headers
from ownlens_kafka.producers import UserEventProducer
from tests.factories import valid_payload

if TYPE_CHECKING:
    import dagster as dg

ROOT = Path(__file__).resolve().parents[1]


def drain(
    consumer: BaseKafkaConsumer[Any], expected: int, timeout: float = 30.0
) -> list[ConsumedEvent[Any]]:
    """Consume until `expected` events arrived (or fail), then one short poll for extras."""
    received: list[ConsumedEvent[Any]] = []
    deadline = time.monotonic() + timeout
    while len(received) < expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {len(received)} of {expected} events in {timeout} s")
        received += consumer.consume_batch(500, 0.5)
    received += consumer.consume_batch(500, 0.3)
    return received


def read_topic(
    config: KafkaConfig, topic: str, expected: int, timeout: float = 30.0
) -> list[Message]:
    """Every record of `topic` read with assign() (no group), waiting for `expected` of them."""
    client = Consumer(config.consumer_config() | {"group.id": "test-reader"})
    try:
        partitions = client.list_topics(topic, timeout=10).topics[topic].partitions
        client.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            messages += [m for m in client.consume(500, 0.2) if m.error() is None]
        messages += [m for m in client.consume(500, 0.3) if m.error() is None]
        return messages
    finally:
        client.close()


def headers_of(message: Message) -> Headers:
    """A consumed record's headers: the list confluent-kafka returns (its stubs also allow a
    dict, which only a producer accepts), empty when the record has none."""
    return cast(Headers, message.headers() or [])


def header_map(message: Message) -> dict[str, bytes]:
    """A consumed record's headers by name, the last value winning; null values left out."""
    return {key: value for key, value in headers_of(message) if isinstance(value, bytes)}


def value_of(message: Message) -> bytes:
    """A consumed record's value, which must not be null (a tombstone)."""
    value = message.value()
    assert value is not None, f"null value at {message.topic()}/{message.partition()}"
    return value


def key_of(message: Message) -> bytes:
    """A consumed record's key, which must not be null."""
    key = message.key()
    assert key is not None, f"null key at {message.topic()}/{message.partition()}"
    return key


def one_row(connection: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The first row `sql` returns, which must exist."""
    row = connection.execute(sql).fetchone()
    assert row is not None, f"no row from: {sql}"
    return row


def materialization(event: dg.EventLogEntry | None) -> dg.AssetMaterialization:
    """The asset materialization an event log entry records, which must be one."""
    assert event is not None, "no materialization event"
    recorded = event.asset_materialization
    assert recorded is not None, f"not a materialization: {event}"
    return recorded


def publish(count: int, config: KafkaConfig) -> None:
    """`count` valid user events, delivered."""
    with UserEventProducer(config) as producer:
        for _ in range(count):
            producer.publish(valid_payload(UserEventProducer.stream.model))
