"""Positions in a stream: an offset, or a time, resolved to an offset on each partition."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, TopicPartition

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import watermarks
from ownlens_kafka.logs import with_logging


@dataclass(frozen=True, slots=True)
class Position:
    """Where a range starts or ends: an offset (every partition) or a time (each partition's
    first record at or after it)."""

    offset: int | None = None
    at: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> Position:
        """`1200` or an ISO 8601 time such as `2026-12-01T08:00:00Z` (naive means UTC)."""
        if text.strip().isdigit():
            return cls(offset=int(text))
        try:
            at = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is neither an offset nor an ISO 8601 time") from None
        return cls(at=at if at.tzinfo is not None else at.replace(tzinfo=UTC))


def resolve(
    config: KafkaConfig, topic: str, position: Position | None, timeout: float = 10.0
) -> dict[int, int]:
    """The offset `position` names on each partition of `topic` (None: the end), clamped to
    what the partition holds."""
    marks = {p: span for (_, p), span in watermarks(config, [topic], timeout).items()}
    if position is None:
        return {p: high for p, (_, high) in marks.items()}
    if position.offset is not None:
        return {p: min(max(position.offset, low), high) for p, (low, high) in marks.items()}
    assert position.at is not None
    millis = int(position.at.timestamp() * 1000)
    reader = Consumer(with_logging(config.consumer_config() | {"group.id": "ownlens-times"}))
    try:
        found = reader.offsets_for_times(
            [TopicPartition(topic, p, millis) for p in marks], timeout=timeout
        )
        resolved = {}
        for tp in found:
            low, high = marks[tp.partition]
            offset = min(max(tp.offset, low), high)
            # -1: no record at or after that time. The embedded broker answers 0 instead, so
            # the record there is read to check it is not earlier than the time asked for.
            if tp.offset < 0 or _stamped_before(reader, topic, tp.partition, offset, millis):
                offset = high
            resolved[tp.partition] = offset
        return resolved
    finally:
        reader.close()


def _stamped_before(reader: Consumer, topic: str, partition: int, offset: int, millis: int) -> bool:
    """Whether the record at `offset` was stamped before `millis` (False if there is none)."""
    reader.assign([TopicPartition(topic, partition, offset)])
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        for message in reader.consume(1, 0.5):
            if message.error() is None:
                kind, stamp = message.timestamp()
                return kind != TIMESTAMP_NOT_AVAILABLE and stamp < millis
    return False
