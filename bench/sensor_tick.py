"""The lag sensor's tick: the `consumer_lag` sensor of the real definitions evaluated as the daemon
does, for all ten consumer groups with lag, against the embedded broker (or
KAFKA_BOOTSTRAP_SERVERS). Prints the median tick with a fresh lag read (clients kept between
ticks), with the cached snapshot, and what the lag read alone costs.

    python bench/sensor_tick.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg
from _common import broker_config, payloads

from ownlens_kafka import reset_config
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import LagReader, group_lag, stream_groups
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import STREAMS
from ownlens_kafka.topics import create_topics


def timed(action: Callable[[], object], rounds: int) -> list[float]:
    """Seconds per call, after one call to warm up."""
    action()
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def show(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"{name:<44} median {statistics.median(ms):6.1f} ms"
        f"   (min {min(ms):.1f}, max {max(ms):.1f}, {len(ms)} rounds)",
        flush=True,
    )


def bench(config: KafkaConfig, rounds: int) -> None:
    create_topics(config)
    producer: BaseKafkaProducer[Any]
    for spec in STREAMS:  # every group lags
        with BaseKafkaProducer(config, stream=spec) as producer:
            producer.publish_batch(payloads(spec.model, 100))
    os.environ.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": config.bootstrap_servers,
            "KAFKA_NAMESPACE": config.namespace,
            "OWNLENS_WAREHOUSE": str(Path(tempfile.mkdtemp()) / "lake"),
        }
    )
    reset_config()
    from ownlens_pipelines import sensors
    from ownlens_pipelines.definitions import defs as load

    defs = load()
    sensor = defs.resolve_sensor_def(sensors.LAG_SENSOR)
    with dg.DagsterInstance.ephemeral() as instance:

        def tick() -> None:
            result = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
            assert isinstance(result, dg.SensorResult) and result.run_requests

        sensors.SNAPSHOT.ttl = 0.0
        show("tick, fresh lag read of 10 groups", timed(tick, rounds))
        sensors.SNAPSHOT.ttl = 3600.0
        show("tick, cached snapshot", timed(tick, rounds))
        sensors.SNAPSHOT.close()
    groups = stream_groups(config, STREAMS)
    with LagReader(config) as reader:
        show(
            "lag read alone, clients kept (LagReader)",
            timed(lambda: reader.group_lag(groups), rounds),
        )
    show(
        "lag read alone, new clients (group_lag)", timed(lambda: group_lag(config, groups), rounds)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with broker_config() as config:
        bench(config, args.rounds)


if __name__ == "__main__":
    main()
