"""Reusable annotated types and validators shared by the event models."""

import ipaddress
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo
from pydantic_core import to_json

TEXT_MAX_LENGTH = 10_000
LONG_TEXT_MAX_LENGTH = 100_000
URL_MAX_LENGTH = 1_000
LIST_MAX_ITEMS = 1_000
TAGS_MAX_ITEMS = 100
INT64_MAX = 2**63 - 1

FREE_DICT_MAX_KEYS = 100
FREE_DICT_MAX_DEPTH = 5
FREE_DICT_MAX_KEY_LENGTH = 100
FREE_DICT_MAX_LIST_ITEMS = 1_000
FREE_DICT_MAX_BYTES = 64 * 1024

# Bounded strings.
Str10 = Annotated[str, StringConstraints(max_length=10)]
Str50 = Annotated[str, StringConstraints(max_length=50)]
Str100 = Annotated[str, StringConstraints(max_length=100)]
Str255 = Annotated[str, StringConstraints(max_length=255)]
Str500 = Annotated[str, StringConstraints(max_length=500)]
Str1000 = Annotated[str, StringConstraints(max_length=1_000)]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX_LENGTH)]
LongText = Annotated[str, StringConstraints(max_length=LONG_TEXT_MAX_LENGTH)]
Name100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Name255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=500)]

# Bounded numbers.
NonNegativeInt = Annotated[int, Field(ge=0, le=INT64_MAX)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]
Percent = Annotated[int, Field(ge=0, le=100)]
HttpStatusCode = Annotated[int, Field(ge=100, le=599)]

# Shared enumerations.
PublicationStatus = Literal["draft", "scheduled", "published", "archived", "deleted"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _as_utc(value: datetime) -> datetime:
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A timezone-aware UTC datetime; naive input is read as UTC, other offsets are converted."""


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def date_of(source: str) -> Callable[[dict[str, Any]], date]:
    """Default factory for a derived date: the UTC date of the earlier field `source`."""

    def factory(data: dict[str, Any]) -> date:
        timestamp: datetime = data[source]
        return timestamp.date()

    return factory


def _agrees_with(source: str) -> AfterValidator:
    def check(value: date, info: ValidationInfo) -> date:
        timestamp: datetime | None = info.data.get(source)
        if timestamp is not None and timestamp.date() != value:
            raise ValueError(
                f"must equal the UTC date of {source} ({timestamp.date().isoformat()}), "
                f"got {value.isoformat()}"
            )
        return value

    return AfterValidator(check)


EventDate = Annotated[date, _agrees_with("event_timestamp")]
PublishDate = Annotated[date, _agrees_with("publish_time")]
PredictionDate = Annotated[date, _agrees_with("predicted_at")]


def not_before(*sources: str) -> AfterValidator:
    """Validator: the value must not be earlier than any of the (earlier) fields `sources`."""

    def check(value: Any, info: ValidationInfo) -> Any:
        for source in sources:
            other = info.data.get(source)
            if other is not None and value < other:
                raise ValueError(f"must not be before {source} ({other.isoformat()})")
        return value

    return AfterValidator(check)


CountryCode = Annotated[
    str, StringConstraints(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$", to_upper=True)
]
"""ISO-3166 alpha-2 country code (two letters, stored upper-case)."""


@lru_cache(maxsize=1024)
def _is_iana_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return False
    return True


def _check_timezone(value: str) -> str:
    if not _is_iana_timezone(value):
        raise ValueError(f"{value!r} is not a known IANA timezone name")
    return value


Timezone = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_timezone)
]
"""An IANA timezone name such as "Europe/Paris"."""


def _check_ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a valid IPv4 or IPv6 address") from None


IpAddressStr = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_ip_address)]
"""An IPv4 or IPv6 address, stored as its canonical string."""

HttpUrlStr = Annotated[
    str,
    StringConstraints(max_length=URL_MAX_LENGTH, pattern=r"^(?i:https?)://[^\s/?#]+[^\s]*$"),
]
"""An absolute http(s) URL kept as a plain string."""

_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})
_isfinite = math.isfinite


def _free_dict_error(path: tuple[str, ...], problem: str) -> ValueError:
    return ValueError(f"{problem} at {'.'.join(path)!r}")


def _check_node(node: Any, depth: int, path: tuple[str, ...]) -> None:
    """Check a nested value (depth of its container counted from the top-level dict as 1)."""
    if isinstance(node, dict):
        if depth > FREE_DICT_MAX_DEPTH:
            raise _free_dict_error(path, f"nesting deeper than {FREE_DICT_MAX_DEPTH} levels")
        if len(node) > FREE_DICT_MAX_KEYS:
            raise _free_dict_error(path, f"more than {FREE_DICT_MAX_KEYS} keys ({len(node)})")
        for key, item in node.items():
            if type(key) is not str or len(key) > FREE_DICT_MAX_KEY_LENGTH:
                limit = FREE_DICT_MAX_KEY_LENGTH
                problem = f"key {str(key)[:20]!r} is not a string of at most {limit} characters"
                raise _free_dict_error(path, problem)
            kind = type(item)
            if kind not in _PLAIN_SCALARS and not (kind is float and _isfinite(item)):
                _check_node(item, depth + 1, (*path, key))
    elif isinstance(node, list):
        if depth > FREE_DICT_MAX_DEPTH:
            raise _free_dict_error(path, f"nesting deeper than {FREE_DICT_MAX_DEPTH} levels")
        if len(node) > FREE_DICT_MAX_LIST_ITEMS:
            problem = f"list longer than {FREE_DICT_MAX_LIST_ITEMS} items ({len(node)})"
            raise _free_dict_error(path, problem)
        for index, item in enumerate(node):
            kind = type(item)
            if kind not in _PLAIN_SCALARS and not (kind is float and _isfinite(item)):
                _check_node(item, depth + 1, (*path, str(index)))
    elif isinstance(node, float):
        if not _isfinite(node):
            raise _free_dict_error(path, "non-finite number")
    elif not isinstance(node, str | int):
        kind_name = type(node).__name__
        raise _free_dict_error(path, f"unsupported value type {kind_name} (JSON types only)")


def _check_free_dict(value: dict[str, Any]) -> dict[str, Any]:
    if not value:
        return value
    text = 0  # 100 keys of <=100 chars with number values stay far below the size limit
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            text += len(item)
        elif kind not in _PLAIN_SCALARS and not (kind is float and _isfinite(item)):
            _check_node(item, 2, (key,))
            text = FREE_DICT_MAX_BYTES
    if text < FREE_DICT_MAX_BYTES // 2:
        return value
    size = len(to_json(value))
    if size > FREE_DICT_MAX_BYTES:
        raise ValueError(f"JSON size {size} bytes exceeds the limit of {FREE_DICT_MAX_BYTES} bytes")
    return value


FreeDict = Annotated[
    dict[Annotated[str, StringConstraints(max_length=FREE_DICT_MAX_KEY_LENGTH)], Any],
    Field(max_length=FREE_DICT_MAX_KEYS),
    AfterValidator(_check_free_dict),
]
"""A free-form JSON object: ≤100 keys per level, keys ≤100 chars, depth ≤5, JSON ≤64 KiB."""

# Bounded lists.
Tags = Annotated[list[Str100], Field(max_length=TAGS_MAX_ITEMS)]
StrList = Annotated[list[Str1000], Field(max_length=LIST_MAX_ITEMS)]
TitleList = Annotated[list[Str500], Field(max_length=LIST_MAX_ITEMS)]
UuidList = Annotated[list[UUID], Field(max_length=LIST_MAX_ITEMS)]
CountryCodeList = Annotated[list[CountryCode], Field(max_length=300)]
FreeDictList = Annotated[list[FreeDict], Field(max_length=LIST_MAX_ITEMS)]
