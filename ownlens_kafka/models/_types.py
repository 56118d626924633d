"""Reusable annotated types and the declarative rules behind them.

Every rule is a small object whose parameters code can read (the fast gate in
`ownlens_kafka.gate` derives its checks from them): `AsUtc`, `DateOf`, `AgreesWith`,
`NotBefore`, `FreeDictBounds`, and functions marked `canonical` (value -> canonical value).
Validator messages never quote the value: errors name the field, the formatter decides what to
show (`ownlens_kafka.errors`).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo
from pydantic_core import to_json

from ownlens_kafka.sensitive import SENSITIVE

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

T = TypeVar("T")

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

# Personal or secret strings: never echoed in errors, logs or dead-letter headers.
SensitiveText = Annotated[Text, SENSITIVE]
"""Free text that may quote a person or their input (reasons, descriptions, error messages)."""
SensitiveStr255 = Annotated[Str255, SENSITIVE]
"""A short value that may identify a person (a referrer, a resource identifier)."""
SensitiveStr500 = Annotated[Str500, SENSITIVE]
"""A request path: it may carry identifiers or query strings."""

# Bounded numbers.
NonNegativeInt = Annotated[int, Field(ge=0, le=INT64_MAX)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]
Percent = Annotated[int, Field(ge=0, le=100)]
HttpStatusCode = Annotated[int, Field(ge=100, le=599)]

# Shared enumerations.
PublicationStatus = Literal["draft", "scheduled", "published", "archived", "deleted"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


# Timestamps and the rules between fields ------------------------------------------------------


def _as_utc(value: datetime) -> datetime:
    """The same instant in UTC; naive values are read as UTC, a zero offset is kept as it is
    (pydantic's own zero-offset zone: converting it would cost more than the whole check)."""
    tz = value.tzinfo
    if tz is UTC:
        return value
    offset = None if tz is None else tz.utcoffset(value)
    if offset is None:
        return value.replace(tzinfo=UTC)
    if not offset:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:  # pydantic turns only ValueError into a validation error
        raise ValueError("is outside years 1-9999 once converted to UTC") from None


AS_UTC = AfterValidator(_as_utc)
UtcDatetime = Annotated[datetime, AS_UTC]
"""A timezone-aware UTC datetime; naive input is read as UTC, other offsets are converted."""


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DateOf:
    """Default factory for a derived date: the UTC date of the earlier field `source`."""

    source: str

    def __call__(self, data: dict[str, Any]) -> date:
        timestamp: datetime = data[self.source]
        return timestamp.date()


def date_of(source: str) -> DateOf:
    """Default factory for a derived date: the UTC date of the earlier field `source`."""
    return DateOf(source)


@dataclass(frozen=True, slots=True)
class AgreesWith:
    """Validator: a given derived date must equal the UTC date of the earlier field `source`."""

    source: str

    def __call__(self, value: date, info: ValidationInfo) -> date:
        timestamp = info.data.get(self.source)
        if isinstance(timestamp, datetime) and timestamp.date() != value:
            raise ValueError(f"must equal the UTC date of {self.source}")
        return value


EventDate = Annotated[date, AfterValidator(AgreesWith("event_timestamp"))]
PublishDate = Annotated[date, AfterValidator(AgreesWith("publish_time"))]
PredictionDate = Annotated[date, AfterValidator(AgreesWith("predicted_at"))]


@dataclass(frozen=True, slots=True)
class NotBefore:
    """Validator: the value must not be earlier than any of the (earlier) fields `sources`."""

    sources: tuple[str, ...]

    def __call__(self, value: T, info: ValidationInfo) -> T:
        for source in self.sources:
            other = info.data.get(source)
            if other is None:
                continue
            try:
                earlier = value < other
            except TypeError:  # a date against a datetime: a model bug, still a clean error
                raise ValueError(f"cannot be compared with {source}") from None
            if earlier:
                raise ValueError(f"must not be before {source}")
        return value


def not_before(*sources: str) -> AfterValidator:
    """Validator: the value must not be earlier than any of the (earlier) fields `sources`."""
    return AfterValidator(NotBefore(sources))


# Values with one canonical form ---------------------------------------------------------------


F = TypeVar("F", bound=Callable[[str], str])


def canonical(function: F) -> F:
    """Marks a validator of the value alone that returns its canonical form or raises
    ValueError (a value already canonical comes back equal), and raises nothing else."""
    function.__ownlens_canonical__ = True  # type: ignore[attr-defined]
    return function


def is_canonical(function: object) -> bool:
    """Whether `function` was marked with `canonical`."""
    return getattr(function, "__ownlens_canonical__", False) is True


CountryCode = Annotated[
    str, StringConstraints(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$", to_upper=True)
]
"""ISO-3166 alpha-2 country code (two letters, stored upper-case)."""


@lru_cache(maxsize=1024)
def _is_iana_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:  # any name ZoneInfo cannot load (paths, NUL, odd files) is not a zone
        return False
    return True


@canonical
def _check_timezone(value: str) -> str:
    if not _is_iana_timezone(value):
        raise ValueError("is not a known IANA timezone name")
    return value


Timezone = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_timezone)
]
"""An IANA timezone name such as "Europe/Paris"."""


@canonical
def _check_ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except Exception:
        raise ValueError("is not a valid IPv4 or IPv6 address") from None


IpAddressStr = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_check_ip_address),
    SENSITIVE,
]
"""An IPv4 or IPv6 address, stored as its canonical string (personal data)."""

HttpUrlStr = Annotated[
    str,
    StringConstraints(max_length=URL_MAX_LENGTH, pattern=r"^(?i:https?)://[^\s/?#]+[^\s]*$"),
    SENSITIVE,
]
"""An absolute http(s) URL kept as a plain string (query strings may carry tokens)."""


# Free-form dictionaries -----------------------------------------------------------------------

_isfinite = math.isfinite
_FLOAT_JSON_MAX = 24  # "-1.2345678901234567e-308": the longest float JSON text


@dataclass(frozen=True, slots=True)
class FreeDictBounds:
    """Validator of a free-form JSON object, all bounds in one walk without recursion: keys per
    object, key length, items per list, nesting depth (the object itself is level 1), JSON
    types only (finite numbers), and the UTF-8 size of its compact JSON."""

    max_keys: int = FREE_DICT_MAX_KEYS
    max_depth: int = FREE_DICT_MAX_DEPTH
    max_key_length: int = FREE_DICT_MAX_KEY_LENGTH
    max_list_items: int = FREE_DICT_MAX_LIST_ITEMS
    max_bytes: int = FREE_DICT_MAX_BYTES

    def __call__(self, value: dict[str, Any]) -> dict[str, Any]:
        try:
            problem = self.problem(value)
        except Exception:  # a dict subclass that cannot even be walked
            problem = "not a JSON object"
        if problem is not None:
            raise ValueError(problem)
        return value

    def validator(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """`self` as a pydantic validator, with the common case (an object of scalars) in one
        loop of local variables: this runs for every free-form object of every record."""
        max_keys, limit, max_bytes = self.max_keys, self.max_key_length, self.max_bytes
        per_key = 6 * limit + 30  # quotes, colon, comma, the longest float, 6 bytes a char
        if self.max_depth < 1:
            return self

        def check(value: dict[str, Any]) -> dict[str, Any]:
            if not value:
                return value
            if len(value) <= max_keys:
                size = 0  # at least the characters of its strings and digits of its ints
                for key, item in value.items():
                    kind = type(item)
                    if kind is str:
                        size += len(item)
                    elif kind is int:
                        size += item.bit_length()
                    elif kind is float:
                        if not _isfinite(item):
                            break
                    elif kind is not bool and item is not None:
                        break  # containers, other types
                    if type(key) is not str or len(key) > limit:
                        break
                else:
                    if 6 * size + len(value) * per_key <= max_bytes:
                        return value
            return self(value)

        check.bounds = self  # type: ignore[attr-defined]  # what the gate derives from
        return check

    def problem(self, root: Any) -> str | None:
        """Why `root` breaks a bound, or None; never names a key or a value (they may be
        personal). Every level, without recursion."""
        # An upper bound of the JSON size, so the exact size is computed only for large values.
        size = 0
        stack: list[tuple[Any, int]] = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > self.max_depth:
                return f"nesting deeper than {self.max_depth} levels"
            if isinstance(node, dict):
                if len(node) > self.max_keys:
                    return f"an object at depth {depth} has more than {self.max_keys} keys"
                size += 2 + 2 * len(node)
                for key in node:
                    if type(key) is not str or len(key) > self.max_key_length:
                        return (
                            f"a key at depth {depth} is not a string "
                            f"of at most {self.max_key_length} characters"
                        )
                    size += 6 * len(key)
                items: Any = node.values()
            elif isinstance(node, list):
                if len(node) > self.max_list_items:
                    return f"a list at depth {depth} has more than {self.max_list_items} items"
                size += 2 + len(node)
                items = node
            else:
                return f"unsupported value type {type(node).__name__} at depth {depth}"
            for item in items:
                kind = type(item)
                if kind is str:
                    size += 2 + 6 * len(item)  # \uXXXX: six bytes per character at most
                elif kind is int:
                    size += 2 + item.bit_length() // 3
                elif kind is bool or item is None:
                    size += 5
                elif kind is float:
                    if not _isfinite(item):
                        return f"a non-finite number at depth {depth}"
                    size += _FLOAT_JSON_MAX
                elif kind is dict or kind is list:
                    stack.append((item, depth + 1))
                elif isinstance(item, dict | list):  # subclasses pass as their base type
                    stack.append((item, depth + 1))
                    size += self.max_bytes + 1  # and their JSON is measured exactly
                elif isinstance(item, float) and not _isfinite(item):
                    return f"a non-finite number at depth {depth}"
                elif isinstance(item, str | int | float):
                    size += self.max_bytes + 1
                else:
                    kind_name = kind.__name__
                    return f"unsupported value type {kind_name} at depth {depth} (JSON types only)"
        if size <= self.max_bytes:
            return None
        return self._size_problem(root)

    def _size_problem(self, root: Any) -> str | None:
        try:
            size = len(to_json(root))
        except Exception:  # e.g. an int too long for a decimal string
            return "not serializable as JSON"
        if size > self.max_bytes:
            return f"JSON size {size} bytes exceeds the limit of {self.max_bytes} bytes"
        return None


FREE_DICT_BOUNDS = FreeDictBounds()

FreeDict = Annotated[
    dict[Annotated[str, StringConstraints(max_length=FREE_DICT_MAX_KEY_LENGTH)], Any],
    Field(max_length=FREE_DICT_MAX_KEYS),
    AfterValidator(FREE_DICT_BOUNDS.validator()),
    SENSITIVE,
]
"""A free-form JSON object: ≤100 keys per level, keys ≤100 chars, depth ≤5, JSON ≤64 KiB."""

# Bounded lists.
Tags = Annotated[list[Str100], Field(max_length=TAGS_MAX_ITEMS)]
StrList = Annotated[list[Str1000], Field(max_length=LIST_MAX_ITEMS)]
TitleList = Annotated[list[Str500], Field(max_length=LIST_MAX_ITEMS)]
UuidList = Annotated[list[UUID], Field(max_length=LIST_MAX_ITEMS)]
CountryCodeList = Annotated[list[CountryCode], Field(max_length=300)]
FreeDictList = Annotated[list[FreeDict], Field(max_length=LIST_MAX_ITEMS)]


def free_dict_bounds(function: object) -> FreeDictBounds | None:
    """The bounds a free-form object validator (`FreeDictBounds.validator()`) checks, if any."""
    if isinstance(function, FreeDictBounds):
        return function
    bounds = getattr(function, "bounds", None)
    return bounds if isinstance(bounds, FreeDictBounds) else None
