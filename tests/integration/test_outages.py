"""Connections that drop mid-flight: nothing is lost and nothing is written twice.

The broker advertises a proxy's address, so every connection goes through the proxy, which
aborts them all every few tens of milliseconds while a batch is in flight.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from ownlens_kafka import UserEventProducer, get_stream
from ownlens_kafka.broker import FAST_GROUP_SETTINGS, EmbeddedBroker
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.topics import create_topics
from ownlens_pipelines.etl import KafkaExtractor
from ownlens_pipelines.settings import ETLConfig
from tests.factories import valid_payload
from tests.helpers import listening, one_row, read_topic, value_of
from tests.proxy import Proxy, free_port, proxy

SPEC = get_stream("user_events")

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
    reason="needs a broker that advertises the proxy's address: the embedded one",
)


@pytest.fixture(scope="module")
def behind_proxy() -> Iterator[tuple[KafkaConfig, Proxy]]:
    port = free_port()
    with (
        EmbeddedBroker(advertised_port=port) as broker,
        proxy(listening(broker), port) as p,
    ):
        config = KafkaConfig(bootstrap_servers=f"127.0.0.1:{port}", **FAST_GROUP_SETTINGS)
        create_topics(config, [SPEC])
        yield config, p


@contextmanager
def cutting(target: Proxy, every: float = 0.1, times: int = 5) -> Iterator[list[int]]:
    """Abort every open connection each `every` seconds, `times` times at most (an outage
    that never ends is not the point); yields the cuts that hit a connection."""
    cuts: list[int] = []
    done = threading.Event()

    def cut() -> None:
        while len(cuts) < times and not done.wait(every):
            if dropped := target.cut():
                cuts.append(dropped)

    worker = threading.Thread(target=cut)
    worker.start()
    try:
        yield cuts
    finally:
        done.set()
        worker.join()


def test_producer_delivers_each_event_once_across_dropped_connections(behind_proxy) -> None:
    config, target = behind_proxy
    count = 20_000
    events = [valid_payload(SPEC.model) for _ in range(count)]
    with UserEventProducer(config) as producer:
        producer.publish(events[0])  # connected, with a producer id: the cuts hit the batch
        producer.flush()
        with cutting(target) as cuts:
            result = producer.publish_batch(events[1:])
    assert len(cuts) >= 3, f"the connections were cut only {len(cuts)} times mid-batch"
    assert (result.delivered, result.failures) == (count - 1, [])
    seen = Counter(
        json.loads(value_of(m))["event_id"] for m in read_topic(config, SPEC.topic, count)
    )
    assert sorted(seen) == sorted(str(e["event_id"]) for e in events)
    assert seen.most_common(1)[0][1] == 1  # idempotence: the retried batches were not doubled


def test_extractor_writes_each_event_once_when_connections_drop_before_commits(
    behind_proxy, tmp_path: Path
) -> None:
    config, target = behind_proxy
    config = config.model_copy(update={"namespace": "extract."})
    create_topics(config, [SPEC])
    count = 5_000
    with UserEventProducer(config) as producer:
        assert producer.publish_batch(valid_payload(SPEC.model) for _ in range(count)).ok
    cuts: list[int] = []

    def cut_before_commit(batch: object) -> None:
        # the worst moment: the rows are in the warehouse, the offsets not yet committed
        if len(cuts) < 4:
            cuts.append(target.cut())

    etl = ETLConfig(kafka=config, warehouse=str(tmp_path / "w.duckdb"), batch_size=250)
    result = KafkaExtractor(SPEC, etl, after_write=cut_before_commit).run()
    assert len(cuts) == 4 and all(cuts), cuts
    assert (result.caught_up, result.lag_after) == (True, 0)
    with duckdb.connect(etl.warehouse, read_only=True) as connection:
        total, distinct = one_row(
            connection, "SELECT count(*), count(DISTINCT event_id) FROM raw.user_events"
        )
    assert total == distinct == count
