"""Typed errors: each carries what a caller or a dead-letter path needs."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, Message
from pydantic import ValidationError


def _shorten(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def describe_validation_error(error: ValidationError) -> str:
    """`field: why (got value)` for every problem, joined by `; `."""
    parts = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "<event>"
        got = "" if item["type"] == "missing" else f" (got {_shorten(item.get('input'))})"
        parts.append(f"{field}: {item['msg']}{got}")
    return "; ".join(parts)


class EventValidationError(ValueError):
    """An event does not match its stream's model; the message names each bad field."""

    def __init__(self, model: str, error: ValidationError) -> None:
        self.model = model
        self.errors = error.errors(include_url=False)
        super().__init__(f"invalid {model}: {describe_validation_error(error)}")


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """A message the broker did not accept."""

    topic: str
    key: str | None
    reason: str
    index: int | None = None

    @classmethod
    def of(cls, error: KafkaError, message: Message, topic: str = "?") -> DeliveryFailure:
        """The failure a delivery report tells of (`topic` when the report names none)."""
        key = message.key()
        return cls(
            message.topic() or topic,
            key.decode(errors="replace") if key else None,
            error.str(),
        )


class DeliveryError(RuntimeError):
    """One or more messages were not delivered."""

    def __init__(self, failures: list[DeliveryFailure], detail: str = "") -> None:
        self.failures = failures
        lines = [
            f"  [{f.index if f.index is not None else '-'}] {f.topic} key={f.key}: {f.reason}"
            for f in failures[:20]
        ]
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        head = detail or f"{len(failures)} message(s) not delivered"
        super().__init__("\n".join([head, *lines]) + more)


class BrokerStartError(RuntimeError):
    """The embedded broker could not be started."""
