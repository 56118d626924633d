"""Reading and replaying dead-letter topics."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from confluent_kafka import Consumer, Message, TopicPartition
from pydantic import ValidationError

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.dead_letter import (
    DLQ_ATTEMPTS,
    DLQ_ORIGINAL_SIZE,
    DLQ_TRUNCATED,
    DeadLetterWriter,
    Letter,
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

Progress = Callable[[int, int], None]  # letters read so far, letters to read


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record of a dead-letter topic and why it is there (bytes that are not UTF-8 are shown
    as `\\xNN` escapes)."""

    stream: str
    partition: int
    offset: int
    key: str | None
    error_type: str
    error: str
    source_partition: str
    source_offset: str
    value: bytes


def _text(raw: bytes | str | None) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    return raw.decode(errors="backslashreplace")


def _header(headers: Headers, name: str) -> str | None:
    """The last value of header `name`, non-UTF-8 bytes escaped."""
    found: str | None = None
    for key, raw in headers:
        if key == name and raw is not None:
            found = _text(raw)
    return found


def _dead_letter(spec: StreamSpec, message: Message) -> DeadLetter:
    headers = cast(Headers, message.headers() or [])
    return DeadLetter(
        spec.name,
        cast(int, message.partition()),
        cast(int, message.offset()),
        _text(message.key()),
        _header(headers, DLQ_ERROR_TYPE) or "?",
        _header(headers, DLQ_ERROR) or "?",
        _header(headers, DLQ_SOURCE_PARTITION) or "?",
        _header(headers, DLQ_SOURCE_OFFSET) or "?",
        message.value() or b"",
    )


def _ranges(
    config: KafkaConfig, topic: str, start: dict[int, int], timeout: float
) -> dict[int, tuple[int, int]]:
    """partition -> (first offset to read, end offset now), for partitions with records left."""
    ranges = {}
    for (_, partition), (low, high) in watermarks(config, [topic], timeout).items():
        first = max(start.get(partition, low), low)
        if first < high:
            ranges[partition] = (first, high)
    return ranges


_SETTLE_EVERY = 1_000  # letters replayed between commits


def _read(
    topic: str, client: Consumer, ranges: dict[int, tuple[int, int]], timeout: float
) -> Iterator[Message]:
    """Every record of `topic` in `ranges` (partition -> first offset, end offset)."""
    todo = {p: end for p, (_, end) in ranges.items()}
    if not todo:
        return
    client.assign([TopicPartition(topic, p, first) for p, (first, _) in ranges.items()])
    deadline = time.monotonic() + timeout
    while todo and time.monotonic() < deadline:
        for message in client.consume(500, 0.5):
            if message.error() is not None:
                continue
            partition, offset = cast(int, message.partition()), cast(int, message.offset())
            if partition in todo and offset < todo[partition]:
                yield message
                deadline = time.monotonic() + timeout  # a deadline for silence, not for all
                if offset + 1 >= todo[partition]:
                    del todo[partition]
    if todo:
        raise TimeoutError(f"{topic} gave no record for {timeout} s before its end")


def list_dead_letters(
    config: KafkaConfig, spec: StreamSpec, limit: int | None = None, timeout: float = 30.0
) -> list[DeadLetter]:
    """The records of the stream's dead-letter topic, oldest first per partition."""
    topic = dead_letter_topic(config.topic_name(spec.topic))
    client = Consumer(with_logging(config.consumer_config() | {"group.id": "ownlens-dlq-list"}))
    try:
        found = []
        ranges = _ranges(config, topic, {}, timeout)
        for message in _read(topic, client, ranges, timeout):
            found.append(_dead_letter(spec, message))
            if limit is not None and len(found) >= limit:
                break
        return sorted(found, key=lambda letter: (letter.partition, letter.offset))
    finally:
        client.close()


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A dead letter replay could not use, and why: where it sits in the dead-letter topic."""

    partition: int
    offset: int
    reason: str


@dataclass(slots=True)
class ReplayResult:
    """What a replay re-published, what still fails (dead-lettered again), and the letters it
    could not read (skipped)."""

    replayed: int = 0
    still_failing: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0  # the same source record dead-lettered twice (a batch retried)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.still_failing and not self.unreadable


def replay(
    config: KafkaConfig,
    spec: StreamSpec,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> ReplayResult:
    """Validate each dead letter not replayed before; publish what is valid now to the stream,
    dead-letter the rest again (one more attempt), then commit the replay group's offsets.
    A source record dead-lettered twice (its batch retried after a crash) is replayed once; a
    letter that cannot be read (a key that is not UTF-8, a source header that is not a number)
    is reported and skipped."""
    topic = dead_letter_topic(config.topic_name(spec.topic))
    group = config.group_name(f"ownlens-dlq-replay-{spec.name}")
    client = Consumer(with_logging(config.consumer_config() | {"group.id": group}))
    producer: BaseKafkaProducer[Any] = BaseKafkaProducer(config, stream=spec)
    again = DeadLetterWriter(config, with_logging({}))
    result = ReplayResult()
    try:
        partitions = client.list_topics(topic, timeout=10).topics[topic].partitions
        committed = client.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        start = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
        ranges = _ranges(config, topic, start, timeout)
        total = sum(end - first for first, end in ranges.values())
        done: dict[int, int] = {}
        seen: set[tuple[str | None, ...]] = set()

        def settle() -> None:  # what is confirmed is not replayed again by a rerun
            producer.flush()
            again.flush(timeout)
            if done:
                offsets = [TopicPartition(topic, p, o) for p, o in done.items()]
                client.commit(offsets=offsets, asynchronous=False)

        for count, message in enumerate(_read(topic, client, ranges, timeout), start=1):
            done[cast(int, message.partition())] = cast(int, message.offset()) + 1
            _replay_one(spec, message, producer, again, result, seen, producer.topic)
            if progress is not None:
                progress(count, total)
            if count % _SETTLE_EVERY == 0:
                settle()
        settle()
        return result
    finally:
        client.close()


def _replay_one(
    spec: StreamSpec,
    message: Message,
    producer: BaseKafkaProducer[Any],
    again: DeadLetterWriter,
    result: ReplayResult,
    seen: set[tuple[str | None, ...]],
    stream_topic: str,
) -> None:
    """Replay one letter into `result`: re-published, failing again, duplicate or unreadable."""
    where = cast(int, message.partition()), cast(int, message.offset())
    try:
        source, attempts, key = _source(message, stream_topic)
    except ValueError as exc:
        result.unreadable.append(Unreadable(*where, str(exc)))
        return
    origin = _origin(message)
    if origin is not None and origin in seen:
        result.duplicates += 1
        return
    if origin is not None:
        seen.add(origin)
    try:
        event = spec.model.model_validate_json(message.value() or b"")
    except ValidationError as exc:
        failure = ("ValidationError", describe_validation_error(exc))
    except Exception as exc:  # whatever validation raises is the record's problem
        failure = (type(exc).__name__, f"{type(exc).__name__} while validating")
    else:
        producer.publish(event, key)
        result.replayed += 1
        return
    error_type, reason = failure
    result.still_failing.append(
        dataclasses.replace(_dead_letter(spec, message), error_type=error_type, error=reason)
    )
    again.send(Letter(source, error_type, reason, attempts=attempts))


def _source(message: Message, stream_topic: str) -> tuple[Rejected, int, str | None]:
    """The record as it first failed (from `stream_topic` unless a header says otherwise), the
    next attempt's number and the key as text; ValueError naming what cannot be read."""
    headers = cast(Headers, message.headers() or [])
    if header_value(headers, DLQ_TRUNCATED) is not None:  # what is left is not the record
        size = header_value(headers, DLQ_ORIGINAL_SIZE) or "?"
        raise ValueError(f"it holds only the first bytes of a {size}-byte record (truncated)")
    raw_key = message.key()
    try:
        key = raw_key.decode() if raw_key is not None else None
    except UnicodeDecodeError:
        raise ValueError("its key is not UTF-8 text") from None
    partition, offset, attempts = (
        _number(headers, name, default)
        for name, default in (
            (DLQ_SOURCE_PARTITION, -1),
            (DLQ_SOURCE_OFFSET, -1),
            (DLQ_ATTEMPTS, 1),
        )
    )
    source = Rejected(
        header_value(headers, DLQ_SOURCE_TOPIC) or stream_topic,
        partition,
        offset,
        raw_key,
        message.value(),
        headers,
    )
    return source, attempts + 1, key


def _number(headers: Headers, name: str, default: int) -> int:
    text = _header(headers, name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"its header {name} is not a number") from None


def _origin(message: Message) -> tuple[str | None, ...] | None:
    """Where a dead letter's record came from and a digest of its bytes, equal for a letter
    written twice; None when the letter does not say where it came from."""
    headers = cast(Headers, message.headers() or [])
    where = [_header(headers, name) for name in (DLQ_SOURCE_TOPIC, DLQ_SOURCE_PARTITION)]
    offset = _header(headers, DLQ_SOURCE_OFFSET)
    if offset is None:
        return None
    digest = hashlib.blake2b(message.value() or b"", digest_size=16).hexdigest()
    return (*where, offset, _header(headers, DLQ_ATTEMPTS), digest)
