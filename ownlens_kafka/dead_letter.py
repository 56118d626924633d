"""Dead-letter topics: where records that cannot be decoded or validated go, with the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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

DLQ_SUFFIX = "-dlq"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


def dead_letter_headers(message: Message, error_type: str, reason: str) -> Headers:
    """The record's own headers plus the error, its source and when it failed."""
    return [
        *(message.headers() or []),
        (DLQ_ERROR, reason.encode()),
        (DLQ_ERROR_TYPE, error_type.encode()),
        (DLQ_SOURCE_TOPIC, (message.topic() or "").encode()),
        (DLQ_SOURCE_PARTITION, str(message.partition()).encode()),
        (DLQ_SOURCE_OFFSET, str(message.offset()).encode()),
        (DLQ_FAILED_AT, datetime.now(UTC).isoformat().encode()),
    ]


class DeadLetterWriter:
    """Copies rejected records, bytes unchanged, to `<topic>-dlq`; `flush()` confirms delivery."""

    def __init__(self, config: KafkaConfig, settings: dict[str, Any]) -> None:
        self._settings = config.producer_config() | settings
        self._client: Producer | None = None
        self._failures: list[DeliveryFailure] = []
        self.pending = 0

    def send(self, message: Message, error_type: str, reason: str) -> None:
        if self._client is None:
            self._client = Producer(self._settings)
        self._client.produce(
            dead_letter_topic(message.topic() or ""),
            message.value(),
            message.key(),
            headers=dead_letter_headers(message, error_type, reason),
            on_delivery=self._on_delivery,
        )
        self.pending += 1

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            key = message.key()
            self._failures.append(
                DeliveryFailure(
                    message.topic() or "",
                    key.decode(errors="replace") if key else None,
                    error.str(),
                )
            )

    def flush(self, timeout: float) -> None:
        """Block until every dead letter is acknowledged; raise DeliveryError if any was not."""
        if self._client is None or not self.pending:
            return
        remaining = self._client.flush(timeout)
        self.pending = 0
        failures, self._failures = self._failures, []
        if remaining or failures:
            raise DeliveryError(
                failures,
                f"dead-letter write failed ({remaining} unconfirmed, {len(failures)} rejected)",
            )
