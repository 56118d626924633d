"""A backlog drained into DuckDB by the KafkaExtractor vs raw confluent-kafka consume of it;
peak RSS for 1M vs 100k; median sensor tick for all ten consumer groups.

Each measurement runs in a child process, so its peak RSS is its own."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from _common import broker_config, payloads
from confluent_kafka import Consumer, Producer

from ownlens_kafka import STREAMS, KafkaConfig, UserEventProducer, create_topics, get_stream

SPEC = get_stream("user_events")


def fill(config: KafkaConfig, count: int) -> None:
    """`count` valid user events (20k distinct payloads, cycled) on the namespace's topic."""
    create_topics(config)
    producer = UserEventProducer(config)
    encoded = [producer.encode(producer.validate(p)) for p in payloads(SPEC.model, 20_000)]
    raw, topic, headers = Producer(config.producer_config()), producer.topic, producer.headers()
    for i in range(count):
        while True:
            try:
                raw.produce(topic, encoded[i % len(encoded)], str(i % 5000), headers=headers)
                break
            except BufferError:
                raw.poll(0.05)
    assert raw.flush(120) == 0


def child(kind: str, config: KafkaConfig, count: int) -> dict[str, float]:
    if kind == "extract":
        from ownlens_pipelines.etl import KafkaExtractor
        from ownlens_pipelines.settings import ETLConfig

        with tempfile.TemporaryDirectory() as directory:
            etl = ETLConfig(kafka=config, warehouse=f"{directory}/w.duckdb")
            started = time.perf_counter()
            result = KafkaExtractor(SPEC, etl).run()
            seconds = time.perf_counter() - started
            assert result.rows_written == count, result
    else:
        client = Consumer(config.consumer_config(f"raw-{uuid.uuid4().hex}"))
        client.subscribe([config.topic_name(SPEC.topic)])
        started, got = time.perf_counter(), 0
        while got < count:
            got += sum(1 for m in client.consume(1_000, 1.0) if m.error() is None)
        seconds = time.perf_counter() - started
        client.close()
    return {"events": count, "seconds": seconds, "rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: after fork and exec that also counts
    the parent's pages at the fork, and the parent holds the whole backlog it produced."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(kind: str, config: KafkaConfig, count: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--count",
            str(count),
            "--config",
            config.model_dump_json(),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def sensor_ticks(config: KafkaConfig, rounds: int) -> list[float]:
    """Seconds to evaluate all ten lag sensors once, as the daemon does, per round."""
    import dagster as dg

    from ownlens_kafka import reset_config
    from ownlens_pipelines.definitions import defs as load

    os.environ.update(
        {"KAFKA_BOOTSTRAP_SERVERS": config.bootstrap_servers, "KAFKA_NAMESPACE": config.namespace}
    )
    reset_config()
    defs = load()
    sensors = [defs.resolve_sensor_def(f"{s.name}_lag") for s in STREAMS]
    instance = dg.DagsterInstance.ephemeral()
    ticks = []
    for _ in range(rounds):
        started = time.perf_counter()
        for sensor in sensors:
            sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
        ticks.append(time.perf_counter() - started)
    return ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--child", choices=["extract", "raw"])
    parser.add_argument("--config")
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(child(args.child, KafkaConfig.model_validate_json(args.config), args.count))
        )
        return
    with broker_config() as base:
        rows = []
        for count in (args.small, args.count):
            config = base.model_copy(update={"namespace": f"{base.namespace}{count}."})
            fill(config, count)
            raw, ours = run_child("raw", config, count), run_child("extract", config, count)
            rows.append((count, ours, raw))
            print(
                f"{count:>9,} events: extractor {count / ours['seconds']:>9,.0f} ev/s "
                f"(peak RSS {ours['rss_mb']:.0f} MB) | raw consume "
                f"{count / raw['seconds']:>9,.0f} ev/s | ratio "
                f"{raw['seconds'] / ours['seconds']:.2f}x",
                flush=True,
            )
        (_, small, _), (_, large, _) = rows
        print(f"peak RSS {args.count:,} / {args.small:,}: {large['rss_mb'] / small['rss_mb']:.2f}x")
        ticks = sensor_ticks(
            base.model_copy(update={"namespace": f"{base.namespace}{args.count}."}), rounds=15
        )
        print(
            f"sensor tick, all {len(STREAMS)} groups: "
            f"median {statistics.median(ticks) * 1000:.0f} ms"
            f" (min {min(ticks) * 1000:.0f}, max {max(ticks) * 1000:.0f})"
        )


if __name__ == "__main__":
    main()
