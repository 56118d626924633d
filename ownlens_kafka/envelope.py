"""What travels with every message besides the event: metadata and dead-letter headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

Headers = list[tuple[str, str | bytes | None]]

PRODUCED_AT = "produced_at"
PRODUCER = "producer"
SCHEMA_VERSION = "schema_version"

DLQ_ERROR = "dlq.error"
DLQ_ERROR_TYPE = "dlq.error_type"
DLQ_SOURCE_TOPIC = "dlq.source_topic"
DLQ_SOURCE_PARTITION = "dlq.source_partition"
DLQ_SOURCE_OFFSET = "dlq.source_offset"
DLQ_FAILED_AT = "dlq.failed_at"


@dataclass(frozen=True, slots=True)
class EventMetadata:
    """Producer-side metadata, carried as Kafka headers."""

    produced_at: datetime | None
    producer: str | None
    schema_version: int | None

    def to_headers(self) -> Headers:
        headers: Headers = []
        if self.produced_at is not None:
            headers.append((PRODUCED_AT, self.produced_at.isoformat().encode()))
        if self.producer is not None:
            headers.append((PRODUCER, self.producer.encode()))
        if self.schema_version is not None:
            headers.append((SCHEMA_VERSION, str(self.schema_version).encode()))
        return headers

    @classmethod
    def from_headers(cls, headers: Headers | None) -> EventMetadata:
        """The metadata the headers carry; a value that cannot be read is None, never an error
        (headers are metadata: a bad one must not stop a stream)."""
        try:
            return cls(
                produced_at=parse_timestamp(_strict_text(headers, PRODUCED_AT)),
                producer=_strict_text(headers, PRODUCER),
                schema_version=parse_version(_strict_text(headers, SCHEMA_VERSION)),
            )
        except Exception:  # headers not even shaped as (name, value) pairs
            return cls(produced_at=None, producer=None, schema_version=None)


def parse_timestamp(text: str | None) -> datetime | None:
    """An ISO 8601 timestamp (naive means UTC), or None."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_version(text: str | None) -> int | None:
    """A schema version: plain ASCII digits within int32, or None."""
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    version = int(text)
    return version if version < 2**31 else None


def _strict_text(headers: Headers | None, name: str) -> str | None:
    """The last value of header `name` as UTF-8 text, or None (also for bytes not UTF-8)."""
    value: str | bytes | None = None
    for key, raw in headers or ():
        if key == name and raw is not None:
            value = raw
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def header_value(headers: Headers | None, name: str) -> str | None:
    """The last value of header `name`, decoded, or None."""
    value = None
    for key, raw in headers or ():
        if key == name and raw is not None:
            value = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return value
