"""Connections that drop mid-flight: nothing is lost and nothing is written twice.

The broker advertises a proxy's address, so every connection goes through the proxy, which
aborts them all at fixed points of the work: while a batch is being sent, or between a
warehouse write and its offset commit.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from ownlens_kafka import UserEventProducer, get_stream
from ownlens_kafka.broker import FAST_GROUP_SETTINGS
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.topics import create_topics
from ownlens_pipelines.etl import KafkaExtractor
from ownlens_pipelines.settings import ETLConfig
from tests.factories import valid_payload
from tests.helpers import delta_copy, one_row, read_topic, value_of
from tests.proxy import Proxy, behind_proxy

SPEC = get_stream("user_events")
T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
    reason="needs a broker that advertises the proxy's address: the embedded one",
)


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[KafkaConfig, Proxy]]:
    with behind_proxy() as proxy:
        config = KafkaConfig(bootstrap_servers=f"127.0.0.1:{proxy.port}", **FAST_GROUP_SETTINGS)
        create_topics(config, [SPEC])
        yield config, proxy


def cutting_every(items: Sequence[T], every: int, proxy: Proxy, cuts: list[int]) -> Iterator[T]:
    """The items, with every open connection aborted before each `every`-th one is handed on."""
    for index, item in enumerate(items):
        if index and index % every == 0:
            cuts.append(proxy.cut(wait=5.0))
        yield item


def test_producer_delivers_each_event_once_across_dropped_connections(proxied) -> None:
    config, proxy = proxied
    count = 20_000
    events = [valid_payload(SPEC.model) for _ in range(count)]
    cuts: list[int] = []
    with UserEventProducer(config) as producer:
        producer.publish(events[0])  # connected, with a producer id: the cuts hit the batch
        producer.flush()
        # while it sends (librdkafka's batches leave every linger.ms): cut 4 times
        result = producer.publish_batch(cutting_every(events[1:], 4_000, proxy, cuts))
    assert len(cuts) == 4 and all(cuts), f"not every cut hit an open connection: {cuts}"
    assert (result.delivered, result.failures) == (count - 1, [])
    seen = Counter(
        json.loads(value_of(m))["event_id"] for m in read_topic(config, SPEC.topic, count)
    )
    assert sorted(seen) == sorted(str(e["event_id"]) for e in events)
    assert seen.most_common(1)[0][1] == 1  # idempotence: the retried batches were not doubled


def test_extractor_writes_each_event_once_when_connections_drop_before_commits(
    proxied, tmp_path: Path
) -> None:
    config, proxy = proxied
    config = config.model_copy(update={"namespace": "extract."})
    create_topics(config, [SPEC])
    count = 5_000
    with UserEventProducer(config) as producer:
        assert producer.publish_batch(valid_payload(SPEC.model) for _ in range(count)).ok
    cuts: list[int] = []

    def cut_before_commit(step: str) -> None:
        # the worst moment: the rows are in the warehouse, the offsets not yet committed
        if step == "rows" and len(cuts) < 4:
            cuts.append(proxy.cut(wait=5.0))

    etl = ETLConfig(kafka=config, warehouse=str(tmp_path / "lake"), batch_size=250)
    result = KafkaExtractor(SPEC, etl, on_step=cut_before_commit).run()
    assert len(cuts) == 4 and all(cuts), cuts
    assert (result.caught_up, result.lag_after) == (True, 0)
    with delta_copy(etl.warehouse, "raw.user_events") as connection:
        total, distinct = one_row(
            connection, "SELECT count(*), count(DISTINCT event_id) FROM raw.user_events"
        )
    assert total == distinct == count
