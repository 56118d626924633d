"""Shared set-up for the benchmarks: a broker, a namespace, payloads, medians."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ownlens_kafka.broker import EmbeddedBroker
from ownlens_kafka.config import KafkaConfig
from tests.factories import valid_payload


@contextlib.contextmanager
def broker_config() -> Iterator[KafkaConfig]:
    """The embedded broker (or KAFKA_BOOTSTRAP_SERVERS), in a namespace of its own."""
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield KafkaConfig(namespace=namespace)
        return
    with EmbeddedBroker() as broker:
        yield broker.kafka_config(namespace=namespace)


def payloads(model: Any, count: int) -> list[dict[str, Any]]:
    return [valid_payload(model) for _ in range(count)]


def report(name: str, rates: list[float], baseline: list[float]) -> None:
    ours, raw = statistics.median(rates), statistics.median(baseline)
    print(
        f"{name:<34} {ours:>12,.0f} msg/s   raw {raw:>12,.0f} msg/s   ratio {ours / raw:.2f}x"
        f"   (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
    )
