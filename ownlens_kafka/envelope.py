"""What travels with every message besides the event: metadata and dead-letter headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
        produced_at = header_value(headers, PRODUCED_AT)
        version = header_value(headers, SCHEMA_VERSION)
        return cls(
            produced_at=datetime.fromisoformat(produced_at) if produced_at else None,
            producer=header_value(headers, PRODUCER),
            schema_version=int(version) if version and version.isdigit() else None,
        )


def header_value(headers: Headers | None, name: str) -> str | None:
    """The last value of header `name`, decoded, or None."""
    value = None
    for key, raw in headers or ():
        if key == name and raw is not None:
            value = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return value
