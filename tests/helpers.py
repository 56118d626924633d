"""Test helpers that talk to the broker (drain a consumer, read a topic raw) or the warehouse."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import duckdb
import pyarrow as pa
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from deltalake import DeltaTable, QueryBuilder
from deltalake.exceptions import TableNotFoundError

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


def delta_arrow(warehouse: str | Path, table: str, sql: str) -> pa.Table | None:
    """What `sql` returns over the Delta table `schema.name` of the warehouse (registered as `t`),
    read with delta-rs, not the project's code; None while the table was never created."""
    schema, name = table.split(".", 1)
    try:
        delta = DeltaTable(f"{warehouse}/{schema}/{name}")
    except TableNotFoundError:
        return None
    return pa.table(QueryBuilder().register("t", delta).execute(sql).read_all())


def delta_count(warehouse: str | Path, table: str) -> int:
    """Rows of the Delta table `schema.name` of the warehouse (0 while never created)."""
    found = delta_arrow(warehouse, table, "SELECT count(*) AS n FROM t")
    return 0 if found is None else int(found.column(0)[0].as_py())


@contextlib.contextmanager
def delta_copy(warehouse: str | Path, *tables: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB holding a copy of each Delta table `schema.name` of the warehouse,
    read with delta-rs (not the project's code); a table never created is not there."""
    connection = duckdb.connect()
    try:
        for table in tables:
            found = delta_arrow(warehouse, table, "SELECT * FROM t")
            if found is None:
                continue
            source = "__" + table.replace(".", "__")
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.', 1)[0]}")
            connection.register(source, found)
            connection.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")
            connection.unregister(source)
        yield connection
    finally:
        connection.close()


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
