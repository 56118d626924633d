"""The Kafka headers of the streams and of their dead-letter topics, as JSON Schemas."""

from __future__ import annotations

from typing import Any

from ownlens_kafka.dead_letter import (
    DLQ_ATTEMPTS,
    DLQ_HEADERS,
    DLQ_ORIGINAL_SIZE,
    DLQ_SHA256,
    DLQ_SOURCE_TOPIC_ID,
    DLQ_TRUNCATED,
    REASON_MAX_BYTES,
)
from ownlens_kafka.envelope import (
    DLQ_ERROR,
    DLQ_ERROR_TYPE,
    DLQ_FAILED_AT,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    PRODUCED_AT,
    PRODUCER,
    SCHEMA_VERSION,
)

Schema = dict[str, Any]

_DIGITS = r"^[0-9]+$"

EVENT_HEADERS: dict[str, Schema] = {
    PRODUCED_AT: {
        "type": "string",
        "format": "date-time",
        "description": "When the producer sent the event (ISO 8601 with offset, UTF-8).",
    },
    PRODUCER: {
        "type": "string",
        "description": "Who sent it: `<KAFKA_CLIENT_ID>/<producer class>` (UTF-8).",
    },
    SCHEMA_VERSION: {
        "type": "string",
        "pattern": _DIGITS,
        "description": "The model's `schema_version` the event was written with (decimal).",
    },
}

# Every name in dead_letter.DLQ_HEADERS needs an entry (tests/unit/test_contracts.py).
DEAD_LETTER_HEADER_DESCRIPTIONS: dict[str, Schema] = {
    DLQ_ERROR: {
        "type": "string",
        "description": f"Why the record was rejected (UTF-8, at most {REASON_MAX_BYTES} bytes).",
    },
    DLQ_ERROR_TYPE: {
        "type": "string",
        "description": "The kind of failure (the exception's class name).",
    },
    DLQ_SOURCE_TOPIC: {"type": "string", "description": "The topic the record was read from."},
    DLQ_SOURCE_TOPIC_ID: {
        "type": "string",
        "description": "That topic's id (its incarnation), when it was known.",
    },
    DLQ_SOURCE_PARTITION: {
        "type": "string",
        "pattern": _DIGITS,
        "description": "Its partition there (decimal).",
    },
    DLQ_SOURCE_OFFSET: {
        "type": "string",
        "pattern": _DIGITS,
        "description": "Its offset there (decimal).",
    },
    DLQ_FAILED_AT: {
        "type": "string",
        "format": "date-time",
        "description": "When it was dead-lettered (ISO 8601, UTC).",
    },
    DLQ_ATTEMPTS: {
        "type": "string",
        "pattern": _DIGITS,
        "description": "How often it failed: 1, plus one per failed replay.",
    },
    DLQ_TRUNCATED: {
        "type": "string",
        "enum": ["true"],
        "description": "Set when the record was too large to copy whole: the value keeps its "
        "leading bytes; the key and the record's own headers may be cut too.",
    },
    DLQ_ORIGINAL_SIZE: {
        "type": "string",
        "pattern": _DIGITS,
        "description": "With dlq.truncated: the original value's size in bytes.",
    },
    DLQ_SHA256: {
        "type": "string",
        "pattern": "^[0-9a-f]{64}$",
        "description": "With dlq.truncated: SHA-256 of the original value (hex).",
    },
}
# Set only on some letters (a known topic id, a truncated record); the others are on every one.
OPTIONAL_DEAD_LETTER_HEADERS = frozenset(
    {DLQ_SOURCE_TOPIC_ID, DLQ_TRUNCATED, DLQ_ORIGINAL_SIZE, DLQ_SHA256}
)


def event_headers_schema() -> Schema:
    """The headers every producer sets on every event."""
    return _headers_object(EVENT_HEADERS, "Kafka headers of every event (UTF-8 values).")


def dead_letter_headers_schema() -> Schema:
    """A dead letter's headers: the record's own (unless cut to fit), plus the `dlq.*` ones."""
    added = {
        name: DEAD_LETTER_HEADER_DESCRIPTIONS.get(name, {"type": "string"})
        for name in sorted(DLQ_HEADERS)
    }
    schema = _headers_object(
        {**EVENT_HEADERS, **added},
        "The rejected record's own headers, unchanged, and why and where it failed.",
    )
    schema["required"] = sorted(set(added) - OPTIONAL_DEAD_LETTER_HEADERS)
    return schema


def _headers_object(headers: dict[str, Schema], description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "properties": {name: headers[name] for name in sorted(headers)},
    }
