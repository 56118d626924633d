"""Validated publish vs raw confluent-kafka producing the same pre-encoded bytes, same settings."""

from __future__ import annotations

import argparse
import time

from _common import broker_config, payloads, report
from confluent_kafka import Producer

from ownlens_kafka import KafkaConfig, UserEventProducer, create_topics, get_stream

SPEC = get_stream("user_events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    count: int = args.count
    with broker_config() as config:
        results = measure(config, count, args.rounds)  # clients gone before the broker stops
    print(
        f"produce: {count:,} UserEventCreate per run, {args.rounds} rounds, "
        f"acks=all, idempotent, snappy (median)"
    )
    report("raw confluent-kafka (pre-encoded)", results["raw"], results["raw"])
    report("publish_batch(dicts)", results["batch"], results["raw"])
    report("publish(dict) + flush", results["single"], results["raw"])
    report("publish_batch(models)", results["models"], results["raw"])


def measure(config: KafkaConfig, count: int, rounds: int) -> dict[str, list[float]]:
    """msg/s of each way to produce, per round."""
    create_topics(config, [SPEC])
    data = payloads(SPEC.model, count)
    producer = UserEventProducer(config)
    models = [producer.validate(d) for d in data]
    encoded = [(producer.encode(m), SPEC.key_of(m)) for m in models]
    topic, headers = producer.topic, producer.headers()
    raw_client = Producer(config.producer_config())

    def raw() -> float:
        start = time.perf_counter()
        for value, key in encoded:
            while True:
                try:
                    raw_client.produce(topic, value, key, headers=headers)
                    break
                except BufferError:
                    raw_client.poll(0.05)
        assert raw_client.flush(60) == 0
        return count / (time.perf_counter() - start)

    def batch() -> float:
        start = time.perf_counter()
        result = producer.publish_batch(data)
        assert result.delivered == count, result.failures[:3]
        return count / (time.perf_counter() - start)

    def one_by_one() -> float:
        start = time.perf_counter()
        for event in data:
            producer.publish(event)
        producer.flush()
        return count / (time.perf_counter() - start)

    def models_batch() -> float:
        start = time.perf_counter()
        result = producer.publish_batch(models)
        assert result.delivered == count
        return count / (time.perf_counter() - start)

    raw()  # warm-up: connections, topic metadata
    results: dict[str, list[float]] = {"raw": [], "batch": [], "single": [], "models": []}
    for _ in range(rounds):
        results["raw"].append(raw())
        results["batch"].append(batch())
        results["single"].append(one_by_one())
        results["models"].append(models_batch())
    producer.close()
    return results


if __name__ == "__main__":
    main()
