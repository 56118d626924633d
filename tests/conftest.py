"""Fixtures: one embedded broker per test session (or KAFKA_BOOTSTRAP_SERVERS), and a fresh
namespace of topics and groups per test."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from ownlens_kafka.broker import EmbeddedBroker
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.streams import STREAMS, StreamSpec
from ownlens_kafka.topics import create_topics

T = TypeVar("T")


@pytest.fixture(scope="session")
def base_config() -> Iterator[KafkaConfig]:
    """The broker under test: an external cluster when KAFKA_BOOTSTRAP_SERVERS is set."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield KafkaConfig()
        return
    with EmbeddedBroker() as broker:
        yield broker.kafka_config()


@pytest.fixture
def kafka_config(base_config: KafkaConfig) -> KafkaConfig:
    """A config whose topics and groups no other test uses."""
    namespace = f"{base_config.namespace}t{uuid.uuid4().hex[:10]}."
    return base_config.model_copy(update={"namespace": namespace})


@pytest.fixture
def make_topics(kafka_config: KafkaConfig) -> Callable[..., list[str]]:
    """Create the topics (and dead-letter topics) of the given streams in this test's namespace."""

    def make(*specs: StreamSpec) -> list[str]:
        return create_topics(kafka_config, specs or STREAMS)

    return make


def wait_for(
    produce: Callable[[], T | None],
    timeout: float = 20.0,
    interval: float = 0.0,
    what: str = "condition",
) -> T:
    """Call `produce` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = produce()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        if interval:
            time.sleep(interval)
