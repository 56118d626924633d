"""Canonical UUIDs, UTC timestamps and plain dates, each checked by one `bytes.translate`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ownlens_kafka.gate.declined import _Declined

_UTC = dt.UTC


def _byte_table(chars: str, mark: str) -> bytes:
    """A bytes.translate table: each of `chars` to `mark`, `mark` itself to "!" (so a `mark`
    in the input never passes for one of `chars`)."""
    table = bytearray(range(256))
    for char in chars:
        table[ord(char)] = ord(mark)
    table[ord(mark)] = ord("!")
    return bytes(table)


_UUID_TABLE = _byte_table("0123456789abcdef", "x")
_UUID_SHAPE = b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
_UUID_LENGTH = len(_UUID_SHAPE)
_UUID_SHAPES = [_UUID_SHAPE * count for count in range(64)]


def _check_uuids(joined: str) -> None:
    """`joined`: UUID strings end to end, each decoded with exactly 36 characters."""
    count = len(joined) // _UUID_LENGTH
    shape = _UUID_SHAPES[count] if count < 64 else _UUID_SHAPE * count
    if joined.encode().translate(_UUID_TABLE) != shape:  # non-ASCII bytes stay, and differ
        raise _Declined


def _check_uuid_list(values: list[str]) -> None:
    _check_uuids("".join(values))


_DIGITS_TABLE = _byte_table("0123456789", "d")
_TIMESTAMP_SHAPES = frozenset(
    f"dddd-dd-ddTdd:dd:dd{fraction}{zone}".encode()
    for fraction in ("", *(f".{'d' * digits}" for digits in range(1, 7)))
    for zone in ("Z", "+dd:dd")
)
_DATE_SHAPE = b"dddd-dd-dd"
_fromisoformat = dt.datetime.fromisoformat
_date_fromisoformat = dt.date.fromisoformat


def _utc_timestamp(text: str) -> None:
    """A UTC timestamp in a form pydantic reads as the same instant (at most 6 fraction digits:
    pydantic truncates more, msgspec and Python round)."""
    if text.encode().translate(_DIGITS_TABLE) not in _TIMESTAMP_SHAPES:
        raise _Declined
    if _fromisoformat(text).tzinfo is not _UTC:  # ValueError for instants that do not exist
        raise _Declined


def _plain_date(text: str) -> None:
    """A `YYYY-MM-DD` date that exists."""
    if text.encode().translate(_DIGITS_TABLE) != _DATE_SHAPE:
        raise _Declined
    _date_fromisoformat(text)


def _comparable(value: Any) -> Any:
    """A timestamp or a date as the gate keeps it (text), made comparable."""
    if isinstance(value, str):
        return (
            _fromisoformat(value) if len(value) > len("YYYY-MM-DD") else _date_fromisoformat(value)
        )
    return value
