"""Consumer-group lag read without joining the group, right on Kafka and on the embedded broker.

End offsets come from the high watermark carried in Fetch responses (a consumer that `assign()`s
the partitions and fetches once), not from ListOffsets(latest), which Tansu answers wrongly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.logs import with_logging
from ownlens_kafka.streams import StreamSpec

Watermarks = dict[tuple[str, int], tuple[int, int]]
_PROBE_SETTINGS = {
    "group.id": "ownlens-offset-probe",  # required by the client; never joined or committed
    "enable.auto.commit": False,
    "fetch.wait.max.ms": 10,
    "max.partition.fetch.bytes": 1,  # the broker still returns one batch: enough for the watermark
}


class UnknownTopicError(LookupError):
    """A topic that the cluster does not have."""


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """How far a group is behind on one partition."""

    group_id: str
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


def watermarks(config: KafkaConfig, topics: Sequence[str], timeout: float = 10.0) -> Watermarks:
    """(low, high) watermark of every partition of `topics` (names as in the cluster)."""
    if not topics:
        return {}
    probe = Consumer(with_logging(config.consumer_config() | _PROBE_SETTINGS))
    try:
        metadata = probe.list_topics(timeout=timeout)
        partitions: list[TopicPartition] = []
        for topic in topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise UnknownTopicError(
                    f"topic {topic!r} does not exist on {config.bootstrap_servers}"
                )
            partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in found.partitions]
        probe.assign(partitions)
        result: Watermarks = {}
        waiting = list(partitions)
        deadline = time.monotonic() + timeout
        while waiting:
            if time.monotonic() > deadline:
                missing = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in waiting[:5])
                raise TimeoutError(f"no end offsets within {timeout} s for {missing}")
            probe.consume(1_000, 0.01)
            still = []
            for tp in waiting:
                low, high = probe.get_watermark_offsets(tp, cached=True)
                if high >= 0:
                    result[(tp.topic, tp.partition)] = (max(low, 0), high)
                else:
                    still.append(tp)
            waiting = still
        return result
    finally:
        probe.close()


def stream_groups(config: KafkaConfig, specs: Iterable[StreamSpec]) -> dict[str, list[str]]:
    """Each stream's consumer group (logical id) and its topic as the cluster names it."""
    return {spec.group_id: [config.topic_name(spec.topic)] for spec in specs}


def group_lag(
    config: KafkaConfig, groups: Mapping[str, Sequence[str]], timeout: float = 10.0
) -> list[PartitionLag]:
    """Lag of each group (logical id) on each partition of its topics (names as in the cluster).

    A partition the group never committed counts from the low watermark, as `earliest` reads it.
    """
    marks = watermarks(config, sorted({t for topics in groups.values() for t in topics}), timeout)
    admin = AdminClient(with_logging(config.connection_config()))
    requests = {
        group: admin.list_consumer_group_offsets(
            [
                ConsumerGroupTopicPartitions(
                    config.group_name(group),
                    [TopicPartition(t, p) for (t, p) in marks if t in topics],
                )
            ],
            request_timeout=timeout,
        )
        for group, topics in groups.items()
    }
    lags: list[PartitionLag] = []
    for group, futures in requests.items():
        for future in futures.values():
            for tp in future.result().topic_partitions or []:
                low, high = marks[(tp.topic, tp.partition)]
                committed = tp.offset if tp.offset >= 0 else None
                position = committed if committed is not None else low
                lags.append(
                    PartitionLag(
                        group, tp.topic, tp.partition, committed, high, max(high - position, 0)
                    )
                )
    return sorted(lags, key=lambda lag: (lag.group_id, lag.topic, lag.partition))
