"""Dead-letter topics: where records that cannot be decoded, validated or stored go, with the
reason. Each bad record is lettered once, whatever crashes or retries happen around it."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

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
_SCAN_CHUNK = 2_000
_SCAN_MAX = 200_000


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

    @classmethod
    def from_message(cls, message: Message) -> Rejected:
        return cls(
            cast(str, message.topic()),
            cast(int, message.partition()),
            cast(int, message.offset()),
            message.key(),
            message.value(),
            cast(Headers, message.headers() or []),
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
    """Copies rejected records to `<topic>-dlq`, into the partition of the same number, so that
    the letters of one source partition are in source order and the newest tells how far
    lettering got; `write()` skips what an earlier, crashed attempt already wrote."""

    def __init__(self, config: KafkaConfig, settings: dict[str, Any]) -> None:
        self._config = config
        self._settings = config.producer_config() | settings
        self.max_bytes = int(self._settings.get("message.max.bytes", 1_000_000))
        self._client: Producer | None = None
        self._failures: list[tuple[KafkaError, Letter | None, Message]] = []
        self._partitions: dict[str, int] = {}
        self._lettered: dict[_Source, tuple[str | None, int]] = {}  # incarnation, last offset
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
        partitions = self._partition_count(topic)
        enqueue(
            self.client,
            topic,
            value,
            key,
            headers,
            lambda error, message: self._on_delivery(error, message, letter),
            partition=letter.record.partition % partitions if partitions else None,
        )
        self.pending += 1

    def _on_delivery(self, error: KafkaError | None, message: Message, letter: Letter) -> None:
        if error is not None:
            self._failures.append((error, letter, message))

    def write(self, letters: Sequence[Letter], timeout: float) -> int:
        """Letter each record not lettered before and wait until all are acknowledged; returns
        how many were written. Raises DeliveryError if any was not."""
        # in source order: the newest letter of a partition then implies all before it
        fresh = sorted(
            self._unwritten(letters, timeout),
            key=lambda letter: (letter.record.topic, letter.record.partition, letter.record.offset),
        )
        for letter in fresh:
            self.send(letter)
        self.flush(timeout)
        for letter in fresh:
            if letter.attempts == 1:
                record = letter.record
                source = _Source(record.topic, record.partition)
                self._lettered[source] = (letter.topic_id, record.offset)
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
                [DeliveryFailure.of(error, message) for error, _, message in failures],
                f"dead-letter write failed ({remaining} unconfirmed, {len(failures)} rejected)",
            )

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Partitions that changed hands: another member may have lettered them meanwhile."""
        for topic, partition in partitions:
            self._lettered.pop(_Source(topic, partition), None)

    def _unwritten(self, letters: Sequence[Letter], timeout: float) -> list[Letter]:
        firsts = [letter for letter in letters if letter.attempts == 1]
        unknown = {
            _Source(letter.record.topic, letter.record.partition)
            for letter in firsts
            if _Source(letter.record.topic, letter.record.partition) not in self._lettered
        }
        if unknown:
            self._lettered.update(self._scan(unknown, timeout))
        fresh = []
        for letter in letters:
            record = letter.record
            incarnation, last = self._lettered.get(
                _Source(record.topic, record.partition), (None, -1)
            )
            already = (
                letter.attempts == 1 and incarnation == letter.topic_id and record.offset <= last
            )
            if not already:
                fresh.append(letter)
        return fresh

    def _partition_count(self, topic: str) -> int:
        if topic not in self._partitions:
            metadata = self.client.list_topics(topic, timeout=10)
            found = metadata.topics.get(topic)
            self._partitions[topic] = (
                len(found.partitions) if found is not None and found.error is None else 0
            )
        return self._partitions[topic]

    def _scan(self, sources: set[_Source], timeout: float) -> dict[_Source, tuple[str | None, int]]:
        """How far each source partition was lettered: the newest first letter of it in its
        dead-letter partition, read backwards in chunks from the end."""
        from ownlens_kafka.lag import watermarks  # lag reads topics; it imports this module

        found: dict[_Source, tuple[str | None, int]] = {}
        by_topic: dict[str, list[_Source]] = {}
        for source in sources:
            by_topic.setdefault(dead_letter_topic(source.topic), []).append(source)
        reader = Consumer(
            with_logging(self._config.consumer_config() | {"group.id": "ownlens-dlq-scan"})
        )
        try:
            for topic, wanted in by_topic.items():
                count = self._partition_count(topic)
                if not count:
                    continue
                marks = watermarks(self._config, [topic], timeout)
                for source in wanted:
                    low, high = marks.get((topic, source.partition % count), (0, 0))
                    found[source] = _newest_first_letter(
                        reader, topic, source, source.partition % count, low, high, timeout
                    )
        finally:
            reader.close()
        return found

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is left and release the producer."""
        try:
            self.flush(timeout)
        finally:
            self._client = None


def _newest_first_letter(
    reader: Consumer,
    topic: str,
    source: _Source,
    partition: int,
    low: int,
    high: int,
    timeout: float,
) -> tuple[str | None, int]:
    """(incarnation, source offset) of the newest first letter of `source`, or (None, -1)."""
    end = high
    deadline = time.monotonic() + timeout
    while end > low and high - end < _SCAN_MAX:
        start = max(low, end - _SCAN_CHUNK)
        newest: tuple[str | None, int] | None = None
        reader.assign([TopicPartition(topic, partition, start)])
        position = start
        while position < end:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic}[{partition}] within {timeout} s")
            for message in reader.consume(1_000, 0.2):
                if message.error() is not None:
                    continue
                position = cast(int, message.offset()) + 1
                if position > end:
                    break
                mark = _first_letter_of(message, source)
                if mark is not None:
                    newest = mark
        if newest is not None:
            return newest
        end = start
    return None, -1


def _first_letter_of(message: Message, source: _Source) -> tuple[str | None, int] | None:
    headers = cast(Headers, message.headers() or [])
    if header_value(headers, DLQ_SOURCE_TOPIC) != source.topic:
        return None
    if header_value(headers, DLQ_SOURCE_PARTITION) != str(source.partition):
        return None
    if header_value(headers, DLQ_ATTEMPTS) not in (None, "1"):
        return None
    offset = header_value(headers, DLQ_SOURCE_OFFSET)
    if offset is None or not (offset.isascii() and offset.isdigit()):
        return None
    return header_value(headers, DLQ_SOURCE_TOPIC_ID), int(offset)
