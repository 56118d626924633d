"""Consumer-group lag read without joining the group, right on Kafka and on the embedded broker.

End offsets come from the high watermark carried in Fetch responses (a consumer that `assign()`s
the partitions and fetches once), not from ListOffsets(latest), which Tansu answers wrongly.
A `LagReader` keeps its clients between reads, so a sensor tick pays no connection set-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from confluent_kafka import (
    OFFSET_END,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
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
    "enable.partition.eof": True,  # an empty or fully read partition still answers
    # a start offset out of range goes to the end: on Tansu a Fetch from the beginning of a
    # large partition takes seconds (500k records: ~1.5 s), one near the end ~10 ms
    "auto.offset.reset": "latest",
}
_METADATA_MAX_AGE_S = 30.0  # partitions added to a topic are seen within this


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


class LagReader:
    """Watermarks and group lag from clients kept open between reads (close it when done).

    Each read assigns the partitions one record before the end seen last time, so every
    partition answers with a record or an end-of-partition event: proof that its watermark
    came from this read's Fetch, not an earlier one. Every group's committed offsets are
    requested at once. Thread-safe; no network until the first read.
    """

    def __init__(self, config: KafkaConfig, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self._lock = threading.Lock()
        self._probe: Consumer | None = None
        self._admin: AdminClient | None = None
        self._partitions: dict[str, list[int]] = {}
        self._metadata_at = 0.0
        self._seen: dict[tuple[str, int], int] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._probe is not None:
                self._probe.close()
            self._probe, self._admin = None, None

    def watermarks(self, topics: Sequence[str]) -> Watermarks:
        """(low, high) watermark of every partition of `topics` (names as in the cluster)."""
        if not topics:
            return {}
        with self._lock:
            return self._watermarks(topics)

    def group_lag(self, groups: Mapping[str, Sequence[str]]) -> list[PartitionLag]:
        """Lag of each group (logical id) on each partition of its topics (names as in the
        cluster). A partition the group never committed counts from the low watermark, as
        `earliest` reads it."""
        with self._lock:
            marks = self._watermarks(sorted({t for topics in groups.values() for t in topics}))
            if self._admin is None:
                self._admin = AdminClient(with_logging(self.config.connection_config()))
            requests = {
                group: self._admin.list_consumer_group_offsets(
                    [
                        ConsumerGroupTopicPartitions(
                            self.config.group_name(group),
                            [TopicPartition(t, p) for (t, p) in marks if t in topics],
                        )
                    ],
                    request_timeout=self.timeout,
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

    def _client(self) -> Consumer:
        if self._probe is None:
            self._probe = Consumer(with_logging(self.config.consumer_config() | _PROBE_SETTINGS))
        return self._probe

    def _partitions_of(self, topics: Sequence[str]) -> list[tuple[str, int]]:
        stale = time.monotonic() - self._metadata_at > _METADATA_MAX_AGE_S
        if stale or any(topic not in self._partitions for topic in topics):
            metadata = self._client().list_topics(timeout=self.timeout)
            self._partitions = {
                name: sorted(found.partitions)
                for name, found in metadata.topics.items()
                if found.error is None
            }
            self._metadata_at = time.monotonic()
        for topic in topics:
            if topic not in self._partitions:
                raise UnknownTopicError(
                    f"topic {topic!r} does not exist on {self.config.bootstrap_servers}"
                )
        return [(topic, p) for topic in topics for p in self._partitions[topic]]

    def _start(self, topic: str, partition: int) -> int:
        """Where to fetch: one record before the end seen last time, else the end as ListOffsets
        tells it. Either is at most the true end (Tansu's answer can lie below it), so the Fetch
        is small and answers with a record or an end-of-partition event."""
        seen = self._seen.get((topic, partition))
        return max(seen - 1, 0) if seen is not None else OFFSET_END

    def _watermarks(self, topics: Sequence[str]) -> Watermarks:
        keys = self._partitions_of(topics)
        probe = self._client()
        probe.assign([TopicPartition(t, p, self._start(t, p)) for t, p in keys])
        try:
            result: Watermarks = {}
            answered: set[tuple[str, int]] = set()
            deadline = time.monotonic() + self.timeout
            while len(result) < len(keys):
                if time.monotonic() > deadline:
                    missing = [f"{t}[{p}]" for t, p in keys if (t, p) not in result][:5]
                    raise TimeoutError(
                        f"no end offsets within {self.timeout} s for {', '.join(missing)}"
                    )
                for message in probe.consume(1_000, 0.005):
                    error = message.error()
                    if error is None or error.code() == KafkaError._PARTITION_EOF:
                        answered.add((str(message.topic()), int(message.partition() or 0)))
                for key in answered - result.keys():
                    low, high = probe.get_watermark_offsets(TopicPartition(*key), cached=True)
                    if high >= 0:
                        result[key] = (max(low, 0), high)
        finally:
            probe.unassign()
        self._seen.update({key: high for key, (_, high) in result.items()})
        return result


def watermarks(config: KafkaConfig, topics: Sequence[str], timeout: float = 10.0) -> Watermarks:
    """(low, high) watermark of every partition of `topics` (names as in the cluster)."""
    with LagReader(config, timeout) as reader:
        return reader.watermarks(topics)


def topic_depth(marks: Watermarks, topic: str) -> int:
    """Records held by `topic` (high minus low watermark, summed over its partitions)."""
    return sum(high - low for (name, _), (low, high) in marks.items() if name == topic)


def stream_groups(config: KafkaConfig, specs: Iterable[StreamSpec]) -> dict[str, list[str]]:
    """Each stream's consumer group (logical id) and its topic as the cluster names it."""
    return {spec.group_id: [config.topic_name(spec.topic)] for spec in specs}


def group_lag(
    config: KafkaConfig, groups: Mapping[str, Sequence[str]], timeout: float = 10.0
) -> list[PartitionLag]:
    """Lag of each group (logical id) on each partition of its topics (names as in the cluster).

    A partition the group never committed counts from the low watermark, as `earliest` reads it.
    """
    with LagReader(config, timeout) as reader:
        return reader.group_lag(groups)
