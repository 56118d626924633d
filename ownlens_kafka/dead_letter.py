"""Dead-letter topics: where records that cannot be decoded, validated or stored go, with the
reason. Each bad record is lettered once, whatever crashes or retries happen around it."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.envelope import (
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_FAILED_AT,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    Headers,
    header_value,
)
from ownlens_kafka.errors import DeliveryError, DeliveryFailure
from ownlens_kafka.lag import UnknownTopicError, watermarks
from ownlens_kafka.logs import with_logging
from ownlens_kafka.producer import enqueue

log = logging.getLogger(__name__)

DLQ_ATTEMPTS = "dlq.attempts"
DLQ_SOURCE_TOPIC_ID = "dlq.source_topic_id"
DLQ_TRUNCATED = "dlq.truncated"
DLQ_ORIGINAL_SIZE = "dlq.original_size"
DLQ_SHA256 = "dlq.sha256"
DLQ_HEADERS = {
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_SOURCE_TOPIC,
    DLQ_SOURCE_TOPIC_ID,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_OFFSET,
    DLQ_FAILED_AT,
    DLQ_ATTEMPTS,
    DLQ_TRUNCATED,
    DLQ_ORIGINAL_SIZE,
    DLQ_SHA256,
}
DLQ_SUFFIX = "-dlq"
REASON_MAX_BYTES = 4_096
# Room left for the record batch framing, per-header overhead and the topic name.
_FRAMING_BYTES = 2_048
_BROKER_REFUSED_CAP = 64 * 1024  # a letter the broker refused as too large is cut to this
_SCAN_MARGIN_MS = 3_600_000  # producers' clocks may disagree: look an hour further back


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that failed, as read from its source topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp: int | None = None  # ms, as the source topic stamped the record

    @classmethod
    def from_message(cls, message: Message) -> Rejected:
        kind, stamp = message.timestamp()
        return cls(
            cast(str, message.topic()),
            cast(int, message.partition()),
            cast(int, message.offset()),
            message.key(),
            message.value(),
            cast(Headers, message.headers() or []),
            None if kind == TIMESTAMP_NOT_AVAILABLE else stamp,
        )


@dataclass(frozen=True, slots=True)
class Letter:
    """One rejected record and why; `topic_id` names the source topic's incarnation."""

    record: Rejected
    error_type: str
    reason: str
    attempts: int = 1
    topic_id: str | None = None


def dead_letter_headers(letter: Letter) -> Headers:
    """The record's own headers plus the error, its source, when it failed and how often."""
    record = letter.record
    own = [(k, v) for k, v in record.headers if k not in DLQ_HEADERS]
    reason = letter.reason.encode(errors="replace")[:REASON_MAX_BYTES]
    headers: Headers = [
        *own,
        (DLQ_ERROR, reason),
        (DLQ_ERROR_TYPE, letter.error_type.encode(errors="replace")),
        (DLQ_SOURCE_TOPIC, record.topic.encode()),
        (DLQ_SOURCE_PARTITION, str(record.partition).encode()),
        (DLQ_SOURCE_OFFSET, str(record.offset).encode()),
        (DLQ_FAILED_AT, datetime.now(UTC).isoformat().encode()),
        (DLQ_ATTEMPTS, str(letter.attempts).encode()),
    ]
    if letter.topic_id is not None:
        headers.append((DLQ_SOURCE_TOPIC_ID, letter.topic_id.encode()))
    return headers


def _size(value: bytes | None, key: bytes | None, headers: Headers) -> int:
    extra = sum(len(k) + len(v or b"") for k, v in headers)
    return len(value or b"") + len(key or b"") + extra + _FRAMING_BYTES


def fitted(letter: Letter, limit: int) -> tuple[bytes | None, bytes | None, Headers]:
    """Value, key and headers of the letter, within `limit` bytes: a record too large to copy
    whole keeps its leading bytes, flagged with its original size and SHA-256."""
    record = letter.record
    headers = dead_letter_headers(letter)
    value, key = record.value, record.key
    if _size(value, key, headers) <= limit:
        return value, key, headers
    original = value or b""
    own = {k for k, _ in record.headers}
    meta = [(k, v) for k, v in headers if k not in own or k in DLQ_HEADERS]
    if _size(b"", key, meta) + 256 > limit:  # the record's own headers and key are the bulk
        key = (key or b"")[: limit // 4] if key else key
    flags: Headers = [
        (DLQ_TRUNCATED, b"true"),
        (DLQ_ORIGINAL_SIZE, str(len(original)).encode()),
        (DLQ_SHA256, hashlib.sha256(original).hexdigest().encode()),
    ]
    kept = headers if _size(b"", key, headers + flags) < limit // 2 else meta
    room = max(limit - _size(b"", key, kept + flags), 0)
    return original[:room], key, kept + flags


@dataclass(frozen=True, slots=True)
class _Source:
    topic: str
    partition: int


class DeadLetterWriter:
    """Copies rejected records to `<topic>-dlq`, into the partition of the same number;
    `write()` skips records an earlier attempt (a crashed process, a retried batch, another
    group or a reprocessing) already lettered, as the dead-letter topic itself tells."""

    def __init__(self, config: KafkaConfig, settings: dict[str, Any]) -> None:
        self._config = config
        self._settings = config.producer_config() | settings
        self.max_bytes = int(self._settings.get("message.max.bytes", 1_000_000))
        self._client: Producer | None = None
        self._failures: list[tuple[KafkaError, Letter | None, Message]] = []
        self._partitions: dict[str, int] = {}
        # first letters known per source partition: (incarnation, source offset)
        self._lettered: dict[_Source, set[tuple[str | None, int]]] = {}
        self.pending = 0

    @property
    def client(self) -> Producer:
        if self._client is None:
            self._client = Producer(self._settings)
        return self._client

    def send(self, letter: Letter, limit: int | None = None) -> None:
        """Enqueue one letter (no check for an earlier copy: `write()` does that)."""
        topic = dead_letter_topic(letter.record.topic)
        value, key, headers = fitted(letter, limit or self.max_bytes)
        enqueue(
            self.client,
            topic,
            value,
            key,
            headers,
            lambda error, message: self._on_delivery(error, message, letter),
            partition=letter.record.partition % self._partition_count(topic),
        )
        self.pending += 1

    def _on_delivery(self, error: KafkaError | None, message: Message, letter: Letter) -> None:
        if error is not None:
            self._failures.append((error, letter, message))

    def write(self, letters: Sequence[Letter], timeout: float) -> int:
        """Letter each record not lettered before and wait until all are acknowledged; returns
        how many were written. Raises DeliveryError if any was not."""
        fresh = self._unwritten(letters, timeout)
        try:
            for letter in fresh:
                self.send(letter)
            self.flush(timeout)
        except Exception:  # which of them arrived is unknown: read the topic again next time
            self.forget({(x.record.topic, x.record.partition) for x in fresh})
            raise
        floors: dict[_Source, int] = {}
        for letter in letters:
            source = _Source(letter.record.topic, letter.record.partition)
            floors[source] = min(floors.get(source, letter.record.offset), letter.record.offset)
        for letter in fresh:
            if letter.attempts == 1:
                record = letter.record
                known = self._lettered.setdefault(_Source(record.topic, record.partition), set())
                known.add((letter.topic_id, record.offset))
        for source, floor in floors.items():  # records are read in order: older marks are done
            if source in self._lettered:
                self._lettered[source] = {m for m in self._lettered[source] if m[1] >= floor}
        return len(fresh)

    def flush(self, timeout: float) -> None:
        """Block until every letter is acknowledged; a letter the broker refused as too large is
        sent again, cut to fit. Raise DeliveryError if any was not delivered."""
        if self._client is None or not self.pending:
            return
        remaining = self._client.flush(timeout)
        if not remaining:
            too_large = [
                letter
                for error, letter, _ in self._failures
                if letter is not None and error.code() == KafkaError.MSG_SIZE_TOO_LARGE
            ]
            if too_large and len(too_large) == len(self._failures):
                self._failures = []
                for letter in too_large:
                    self.send(letter, limit=_BROKER_REFUSED_CAP)
                remaining = self._client.flush(timeout)
        if remaining:  # unconfirmed: dropped, so a retry of the batch does not write them twice
            self._client.purge(in_queue=True, in_flight=False)
            self._client.flush(timeout)  # serves the purge reports (failures, recorded below)
        self.pending = 0
        failures, self._failures = self._failures, []
        if remaining or failures:
            # an idempotent producer that lost its broker may never recover: start a new one
            self._client = None
            raise DeliveryError(
                [_failure(error, message) for error, _, message in failures],
                f"dead-letter write failed ({remaining} unconfirmed, {len(failures)} rejected)",
            )

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Partitions that changed hands: another member may have lettered them meanwhile."""
        for topic, partition in partitions:
            self._lettered.pop(_Source(topic, partition), None)

    def _unwritten(self, letters: Sequence[Letter], timeout: float) -> list[Letter]:
        """The letters whose record has no first letter in the topic yet (letters of later
        attempts, from a replay, are always written)."""
        since: dict[_Source, int | None] = {}  # the earliest record time to look from (None: all)
        for letter in letters:
            source = _Source(letter.record.topic, letter.record.partition)
            if letter.attempts != 1 or source in self._lettered:
                continue
            stamp = letter.record.timestamp
            if source not in since:
                since[source] = stamp
            elif (earliest := since[source]) is not None:
                since[source] = None if stamp is None else min(earliest, stamp)
        if since:
            self._lettered.update(self._scan(since, timeout))
        return [
            letter
            for letter in letters
            if letter.attempts != 1
            or (letter.topic_id, letter.record.offset)
            not in self._lettered[_Source(letter.record.topic, letter.record.partition)]
        ]

    def _partition_count(self, topic: str) -> int:
        if topic not in self._partitions:
            metadata = self.client.list_topics(topic, timeout=10)
            found = metadata.topics.get(topic)
            if found is None or found.error is not None or not found.partitions:
                raise UnknownTopicError(f"dead-letter topic {topic!r} does not exist")
            self._partitions[topic] = len(found.partitions)
        return self._partitions[topic]

    def _scan(
        self, since: dict[_Source, int | None], timeout: float
    ) -> dict[_Source, set[tuple[str | None, int]]]:
        """The first letters of each source partition, read from its dead-letter partition from
        the time its earliest pending record was stamped (less an hour for skewed clocks): a
        letter is never older than its record."""
        found: dict[_Source, set[tuple[str | None, int]]] = {source: set() for source in since}
        wanted: dict[tuple[str, int], list[_Source]] = {}
        for source in since:
            topic = dead_letter_topic(source.topic)
            wanted.setdefault((topic, source.partition % self._partition_count(topic)), []).append(
                source
            )
        reader = Consumer(
            with_logging(self._config.consumer_config() | {"group.id": "ownlens-dlq-scan"})
        )
        try:
            for (topic, partition), sources in wanted.items():
                stamps = [since[source] for source in sources]
                start = _offset_at(reader, topic, partition, stamps, timeout)
                _, end = watermarks(self._config, [topic], timeout)[(topic, partition)]
                for message in _read_range(reader, topic, partition, start, end, timeout):
                    letter = _first_letter_of(message)
                    if letter is not None:
                        source, mark = letter
                        if source in found:
                            found[source].add(mark)
        finally:
            reader.close()
        return found

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is left and release the producer."""
        try:
            self.flush(timeout)
        finally:
            self._client = None


def _failure(error: KafkaError, message: Message) -> DeliveryFailure:
    """A letter not delivered, without its key: a rejected record's key is not to be echoed."""
    return DeliveryFailure(message.topic() or "?", None, error.str())


def _offset_at(
    reader: Consumer, topic: str, partition: int, stamps: list[int | None], timeout: float
) -> int:
    """The first offset of the dead-letter partition at or after the earliest of `stamps`."""
    if any(stamp is None for stamp in stamps):
        return OFFSET_BEGINNING
    at = max(min(cast(list[int], stamps)) - _SCAN_MARGIN_MS, 0)
    [found] = reader.offsets_for_times([TopicPartition(topic, partition, at)], timeout=timeout)
    return found.offset if found.offset >= 0 else OFFSET_END


def _read_range(
    reader: Consumer, topic: str, partition: int, start: int, end: int, timeout: float
) -> Iterator[Message]:
    """The records of one partition from `start` (an offset or a logical one) to `end`."""
    if start == OFFSET_END or end <= 0 or (start >= 0 and start >= end):
        return
    reader.assign([TopicPartition(topic, partition, start)])
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read {topic}[{partition}] to {end} within {timeout} s")
        for message in reader.consume(1_000, 0.2):
            if message.error() is not None:
                continue
            yield message
            if cast(int, message.offset()) + 1 >= end:
                return


def _first_letter_of(message: Message) -> tuple[_Source, tuple[str | None, int]] | None:
    """(source partition, (incarnation, source offset)) of a first-attempt letter, else None."""
    headers = cast(Headers, message.headers() or [])
    if header_value(headers, DLQ_ATTEMPTS) not in (None, "1"):
        return None
    topic = header_value(headers, DLQ_SOURCE_TOPIC)
    partition = header_value(headers, DLQ_SOURCE_PARTITION)
    offset = header_value(headers, DLQ_SOURCE_OFFSET)
    if topic is None or not _is_number(partition) or not _is_number(offset):
        return None
    source = _Source(topic, int(cast(str, partition)))
    return source, (header_value(headers, DLQ_SOURCE_TOPIC_ID), int(cast(str, offset)))


def _is_number(text: str | None) -> bool:
    return text is not None and text.isascii() and text.isdigit() and len(text) < 20
