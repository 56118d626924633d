"""Test helpers that talk to the broker: drain a consumer, read a topic raw."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.consumer import BaseKafkaConsumer, ConsumedEvent
from ownlens_kafka.producers import UserEventProducer
from tests.factories import valid_payload

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


def publish(count: int, config: KafkaConfig) -> None:
    """`count` valid user events, delivered."""
    with UserEventProducer(config) as producer:
        for _ in range(count):
            producer.publish(valid_payload(UserEventProducer.stream.model))  # type: ignore[union-attr]
