"""Validated consume vs raw confluent-kafka consume of the same records (after the group join)."""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from _common import broker_config, payloads, report
from confluent_kafka import Consumer

from ownlens_kafka import UserEventConsumer, UserEventProducer, create_topics, get_stream

SPEC = get_stream("user_events")
T = TypeVar("T")


def wait_for_first(consume: Callable[[], list[T]]) -> list[T]:
    """The first non-empty batch: the group join is not part of the measurement."""
    while not (batch := consume()):
        pass
    return batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with broker_config() as config:
        create_topics(config, [SPEC])
        with UserEventProducer(config) as producer:
            result = producer.publish_batch(payloads(SPEC.model, args.count))
            assert result.delivered == args.count
        topic = config.topic_name(SPEC.topic)

        def raw() -> float:
            client = Consumer(config.consumer_config(f"raw-{uuid.uuid4().hex}"))
            client.subscribe([topic])
            got = len(wait_for_first(lambda: client.consume(1_000, 1.0)))
            start, counted = time.perf_counter(), 0
            while got + counted < args.count:
                batch = client.consume(1_000, 1.0)
                counted += sum(1 for m in batch if m.error() is None and m.value() is not None)
            rate = counted / (time.perf_counter() - start)
            client.close()
            return rate

        def validated() -> float:
            with UserEventConsumer(config, group_id=f"val-{uuid.uuid4().hex}") as consumer:
                got = len(wait_for_first(lambda: consumer.consume_batch(1_000, 1.0)))
                start, counted = time.perf_counter(), 0
                while got + counted < args.count:
                    counted += len(consumer.consume_batch(1_000, 1.0))
                return counted / (time.perf_counter() - start)

        results: dict[str, list[float]] = {"raw": [], "validated": []}
        for _ in range(args.rounds):
            results["raw"].append(raw())
            results["validated"].append(validated())
        print(f"consume: {args.count:,} UserEventCreate per run, {args.rounds} rounds (median)")
        report("raw confluent-kafka consume", results["raw"], results["raw"])
        report("consume_batch (validated)", results["validated"], results["raw"])


if __name__ == "__main__":
    main()
