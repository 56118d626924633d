"""Typed errors: each carries what a caller or a dead-letter path needs, and no personal data."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, to_json

from ownlens_kafka.models._base import event_model_named
from ownlens_kafka.sensitive import sensitive_fields

SHOW_VALUES = "OWNLENS_SHOW_VALUES"
"""Set to 1 to show rejected values in error messages (local debugging only)."""

_MAX_ERRORS = 20  # the reason also travels as a Kafka header: keep it bounded
_SHOWN_CHARS = 40
_DEBUG_CHARS = 200
# Messages whose detail quotes part of the input (the offending character of a UUID).
_QUOTING_TYPES = frozenset({"uuid_parsing", "url_parsing"})


def describe_validation_error(error: ValidationError, model: type[BaseModel] | None = None) -> str:
    """`field: rule [type] (got <type> of <length>)` for every problem, joined by `; `.

    Never a value of a field marked sensitive, inside a free-form dict, of an unknown field or of
    an unknown model (`model` or the one the error's title names); other short values are shown
    shortened. `OWNLENS_SHOW_VALUES=1` shows every value (read now, for local debugging).
    """
    show = os.environ.get(SHOW_VALUES) == "1"
    model = model or event_model_named(error.title)
    fields = frozenset(model.model_fields) if model is not None else None
    hidden = sensitive_fields(model) if model is not None else frozenset()
    try:
        items = error.errors(include_url=False)
    except Exception:  # pragma: no cover - pydantic-core builds these itself
        return f"{error.error_count()} validation error(s)"
    if len(items) > 1:  # a derived default is skipped when another field failed: noise
        items = [item for item in items if item["type"] != "default_factory_not_called"] or items
    parts = [_describe(item, fields, hidden, show) for item in items[:_MAX_ERRORS]]
    if len(items) > _MAX_ERRORS:
        parts.append(f"... and {len(items) - _MAX_ERRORS} more")
    return "; ".join(parts)


def _describe(
    item: ErrorDetails, fields: Collection[str] | None, hidden: Collection[str], show: bool
) -> str:
    loc = item["loc"]
    known = fields is not None and bool(loc) and loc[0] in fields
    secret = not known or loc[0] in hidden
    path = _path(loc, fields, secret)
    kind = item["type"]
    message = item["msg"]
    if secret and not show and kind in _QUOTING_TYPES:
        message = message.split(",", 1)[0]
    if kind == "missing":
        return f"{path}: {message} [{kind}]"
    limit = _DEBUG_CHARS if show else (None if secret else _SHOWN_CHARS)
    try:
        got = _got(item.get("input"), limit)
    except Exception:  # an input whose length or type cannot even be read
        got = "an unreadable value"
    return f"{path}: {message} [{kind}] (got {got})"


def _path(loc: tuple[int | str, ...], fields: Collection[str] | None, secret: bool) -> str:
    """The location, dotted; keys inside a sensitive field (free-form dicts) are not shown."""
    if not loc:
        return "<event>"
    parts = []
    for index, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(str(part))
        elif index == 0:
            known = fields is not None and part in fields
            parts.append(part if known else _quoted(part))
        elif secret and part != "[key]":
            parts.append("<key>")
        else:
            parts.append(_quoted(part))
    return ".".join(parts)


def _quoted(name: str) -> str:
    """A name from the input, bounded and with control characters escaped."""
    short = name[:_SHOWN_CHARS]
    text = short if short.isprintable() and short.isascii() else repr(short)[1:-1]
    return text if len(name) <= _SHOWN_CHARS else f"{text}..."


def _got(value: Any, limit: int | None) -> str:
    """The value's type and length, and the value itself cut to `limit` characters unless
    `limit` is None (values that must not be shown)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool" if limit is None else f"bool: {value}"
    if isinstance(value, int):
        bits = value.bit_length()
        digits = len(str(value)) if bits < 1_000 else f"about {int(bits * 0.30103) + 1}"
        head = f"int of {digits} digits"
        return head if limit is None or bits > 3 * limit else f"{head}: {value}"
    if isinstance(value, float):
        return "float" if limit is None else f"float: {value!r}"
    if isinstance(value, str | bytes | bytearray):
        unit = "chars" if isinstance(value, str) else "bytes"
        head = f"{type(value).__name__} of {len(value)} {unit}"
        if limit is None:
            return head
        text = repr(value[:limit])
        return f"{head}: {text}{'...' if len(value) > limit else ''}"
    if isinstance(value, dict):
        return f"dict of {len(value)} keys{_dumped(value, limit)}"
    if isinstance(value, list | tuple | set | frozenset):
        return f"{type(value).__name__} of {len(value)} items{_dumped(value, limit)}"
    return type(value).__name__


def _dumped(value: Any, limit: int | None) -> str:
    """A container as JSON, cut, only in debug mode (`limit` of _DEBUG_CHARS)."""
    if limit != _DEBUG_CHARS:  # inside containers are free-form values: never in normal mode
        return ""
    try:
        text = to_json(value, fallback=repr).decode(errors="replace")
    except Exception:  # too deep or not serializable: the type and size said enough
        return ""
    return f": {text[:limit]}{'...' if len(text) > limit else ''}"


def _without_values(items: list[ErrorDetails], model: type[BaseModel] | None) -> list[ErrorDetails]:
    """The errors with no input, and no key from inside a sensitive field in their location."""
    fields = frozenset(model.model_fields) if model is not None else None
    hidden = sensitive_fields(model) if model is not None else frozenset()
    clean = []
    for item in items:
        loc = item["loc"]
        secret = fields is None or not loc or loc[0] not in fields or loc[0] in hidden
        if secret and len(loc) > 1:
            tail = tuple(p if isinstance(p, int) or p == "[key]" else "<key>" for p in loc[1:])
            item = {**item, "loc": (loc[0], *tail)}
        clean.append(item)
    return clean


class EventValidationError(ValueError):
    """An event does not match its stream's model; the message names each bad field and rule,
    never a personal value (see `describe_validation_error`)."""

    def __init__(self, model: str | type[BaseModel], error: ValidationError) -> None:
        cls = model if isinstance(model, type) else event_model_named(model)
        self.model = model if isinstance(model, str) else model.__name__
        self.errors = _without_values(error.errors(include_url=False, include_input=False), cls)
        super().__init__(f"invalid {self.model}: {describe_validation_error(error, cls)}")


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

    def __init__(
        self, failures: list[DeliveryFailure], detail: str = "", result: Any = None
    ) -> None:
        self.failures = failures
        self.result = result  # a batch's result so far, when a batch timed out
        lines = [
            f"  [{f.index if f.index is not None else '-'}] {f.topic} key={f.key}: {f.reason}"
            for f in failures[:20]
        ]
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        head = detail or f"{len(failures)} message(s) not delivered"
        super().__init__("\n".join([head, *lines]) + more)


class BrokerStartError(RuntimeError):
    """The embedded broker could not be started."""
