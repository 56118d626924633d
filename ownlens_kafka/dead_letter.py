"""Dead-letter topics: where records that cannot be decoded or validated go, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from confluent_kafka import KafkaError, Message, Producer

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.envelope import (
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_FAILED_AT,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    Headers,
)
from ownlens_kafka.errors import DeliveryError, DeliveryFailure
from ownlens_kafka.producer import enqueue

DLQ_ATTEMPTS = "dlq.attempts"
DLQ_HEADERS = {
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_SOURCE_TOPIC,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_OFFSET,
    DLQ_FAILED_AT,
    DLQ_ATTEMPTS,
}

DLQ_SUFFIX = "-dlq"


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


def dead_letter_headers(
    record: Rejected, error_type: str, reason: str, attempts: int = 1
) -> Headers:
    """The record's own headers plus the error, its source, when it failed and how often."""
    own = [(k, v) for k, v in record.headers if k not in DLQ_HEADERS]
    return [
        *own,
        (DLQ_ERROR, reason.encode()),
        (DLQ_ERROR_TYPE, error_type.encode()),
        (DLQ_SOURCE_TOPIC, record.topic.encode()),
        (DLQ_SOURCE_PARTITION, str(record.partition).encode()),
        (DLQ_SOURCE_OFFSET, str(record.offset).encode()),
        (DLQ_FAILED_AT, datetime.now(UTC).isoformat().encode()),
        (DLQ_ATTEMPTS, str(attempts).encode()),
    ]


class DeadLetterWriter:
    """Copies rejected records, bytes unchanged, to `<topic>-dlq`; `flush()` confirms delivery."""

    def __init__(self, config: KafkaConfig, settings: dict[str, Any]) -> None:
        self._settings = config.producer_config() | settings
        self._client: Producer | None = None
        self._failures: list[DeliveryFailure] = []
        self.pending = 0

    def send(self, record: Rejected, error_type: str, reason: str, attempts: int = 1) -> None:
        if self._client is None:
            self._client = Producer(self._settings)
        enqueue(
            self._client,
            dead_letter_topic(record.topic),
            record.value,
            record.key,
            dead_letter_headers(record, error_type, reason, attempts),
            self._on_delivery,
        )
        self.pending += 1

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(DeliveryFailure.of(error, message))

    def flush(self, timeout: float) -> None:
        """Block until every dead letter is acknowledged; raise DeliveryError if any was not."""
        if self._client is None or not self.pending:
            return
        remaining = self._client.flush(timeout)
        if remaining:  # unconfirmed: dropped, so a retry of the batch does not write them twice
            self._client.purge(in_queue=True, in_flight=False)
            self._client.flush(timeout)  # serves the purge reports (failures, recorded below)
        self.pending = 0
        failures, self._failures = self._failures, []
        if remaining or failures:
            raise DeliveryError(
                failures,
                f"dead-letter write failed ({remaining} unconfirmed, {len(failures)} rejected)",
            )

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is left and release the producer."""
        try:
            self.flush(timeout)
        finally:
            self._client = None
