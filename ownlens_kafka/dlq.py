"""Reading and replaying dead-letter topics."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from pydantic import ValidationError

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.dead_letter import (
    DLQ_ATTEMPTS,
    DeadLetterWriter,
    Rejected,
    dead_letter_topic,
)
from ownlens_kafka.envelope import (
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    Headers,
    header_value,
)
from ownlens_kafka.errors import describe_validation_error
from ownlens_kafka.lag import watermarks
from ownlens_kafka.logs import with_logging
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import StreamSpec


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record of a dead-letter topic and why it is there."""

    stream: str
    partition: int
    offset: int
    key: str | None
    error_type: str
    error: str
    source_partition: str
    source_offset: str
    value: bytes


def _dead_letter(spec: StreamSpec, message: Message) -> DeadLetter:
    headers = cast(Headers, message.headers() or [])
    key = message.key()
    return DeadLetter(
        spec.name,
        cast(int, message.partition()),
        cast(int, message.offset()),
        key.decode(errors="replace") if key else None,
        header_value(headers, DLQ_ERROR_TYPE) or "?",
        header_value(headers, DLQ_ERROR) or "?",
        header_value(headers, DLQ_SOURCE_PARTITION) or "?",
        header_value(headers, DLQ_SOURCE_OFFSET) or "?",
        message.value() or b"",
    )


def _read(
    config: KafkaConfig, topic: str, client: Consumer, start: dict[int, int] | None, timeout: float
) -> Iterator[Message]:
    """Every record of `topic` up to its end offsets now, from `start` (default: beginning)."""
    ends = {p: high for (_, p), (_, high) in watermarks(config, [topic], timeout).items()}
    begin = start or {}
    todo = {p: end for p, end in ends.items() if begin.get(p, 0) < end}
    if not todo:
        return
    client.assign([TopicPartition(topic, p, begin.get(p, OFFSET_BEGINNING)) for p in todo])
    deadline = time.monotonic() + timeout
    while todo and time.monotonic() < deadline:
        for message in client.consume(500, 0.5):
            if message.error() is not None:
                continue
            partition, offset = cast(int, message.partition()), cast(int, message.offset())
            if partition in todo and offset < todo[partition]:
                yield message
                if offset + 1 >= todo[partition]:
                    del todo[partition]
    if todo:
        raise TimeoutError(f"could not read {topic} to its end within {timeout} s")


def list_dead_letters(
    config: KafkaConfig, spec: StreamSpec, limit: int | None = None, timeout: float = 30.0
) -> list[DeadLetter]:
    """The records of the stream's dead-letter topic, oldest first per partition."""
    topic = dead_letter_topic(config.topic_name(spec.topic))
    client = Consumer(with_logging(config.consumer_config() | {"group.id": "ownlens-dlq-list"}))
    try:
        found = []
        for message in _read(config, topic, client, None, timeout):
            found.append(_dead_letter(spec, message))
            if limit is not None and len(found) >= limit:
                break
        return found
    finally:
        client.close()


@dataclass(slots=True)
class ReplayResult:
    """What a replay re-published and what still fails (dead-lettered again)."""

    replayed: int = 0
    still_failing: list[DeadLetter] | None = None
    duplicates: int = 0  # the same source record dead-lettered twice (a batch retried)


def replay(config: KafkaConfig, spec: StreamSpec, timeout: float = 60.0) -> ReplayResult:
    """Validate each dead letter not replayed before; publish what is valid now to the stream,
    dead-letter the rest again (one more attempt), then commit the replay group's offsets.
    A source record dead-lettered twice (its batch retried after a crash) is replayed once."""
    topic = dead_letter_topic(config.topic_name(spec.topic))
    group = config.group_name(f"ownlens-dlq-replay-{spec.name}")
    client = Consumer(with_logging(config.consumer_config() | {"group.id": group}))
    producer: BaseKafkaProducer[Any] = BaseKafkaProducer(config, stream=spec)
    again = DeadLetterWriter(config, with_logging({}))
    result = ReplayResult(still_failing=[])
    try:
        partitions = client.list_topics(topic, timeout=10).topics[topic].partitions
        committed = client.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        start = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
        done: dict[int, int] = {}
        seen: set[tuple[str | None, ...]] = set()
        for message in _read(config, topic, client, start, timeout):
            done[cast(int, message.partition())] = cast(int, message.offset()) + 1
            origin = _origin(message)
            if origin is not None and origin in seen:
                result.duplicates += 1
                continue
            if origin is not None:
                seen.add(origin)
            try:
                event = spec.model.model_validate_json(message.value() or b"")
            except ValidationError as exc:
                assert result.still_failing is not None
                result.still_failing.append(_dead_letter(spec, message))
                source, attempts = _retry(message)
                again.send(source, "ValidationError", describe_validation_error(exc), attempts)
            else:
                key = message.key()
                producer.publish(event, key.decode() if key else None)
                result.replayed += 1
        producer.flush()
        again.flush(timeout)
        if done:
            client.commit(
                offsets=[TopicPartition(topic, p, o) for p, o in done.items()], asynchronous=False
            )
        return result
    finally:
        client.close()


def _origin(message: Message) -> tuple[str | None, ...] | None:
    """Where a dead letter's record came from and a digest of its bytes, equal for a letter
    written twice; None when the letter does not say where it came from."""
    headers = cast(Headers, message.headers() or [])
    where = [header_value(headers, name) for name in (DLQ_SOURCE_TOPIC, DLQ_SOURCE_PARTITION)]
    offset = header_value(headers, DLQ_SOURCE_OFFSET)
    if offset is None:
        return None
    digest = hashlib.blake2b(message.value() or b"", digest_size=16).hexdigest()
    return (*where, offset, header_value(headers, DLQ_ATTEMPTS), digest)


def _retry(message: Message) -> tuple[Rejected, int]:
    """A dead letter as it first failed (its source), one attempt later."""
    headers = cast(Headers, message.headers() or [])
    source = Rejected(
        header_value(headers, DLQ_SOURCE_TOPIC) or "",
        int(header_value(headers, DLQ_SOURCE_PARTITION) or -1),
        int(header_value(headers, DLQ_SOURCE_OFFSET) or -1),
        message.key(),
        message.value(),
        headers,
    )
    attempts = int(header_value(headers, DLQ_ATTEMPTS) or 1) + 1
    return source, attempts
