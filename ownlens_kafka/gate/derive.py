"""From pydantic-core schemas to msgspec types and what is left to check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, cast

import msgspec
from pydantic_core import CoreConfig, CoreSchema, SchemaValidator

from ownlens_kafka.gate.canonical import _check_uuid_list, _utc_timestamp
from ownlens_kafka.gate.declined import Check, _decline, _Declined
from ownlens_kafka.models._types import (
    AgreesWith,
    FreeDictBounds,
    NotBefore,
    _as_utc,
    free_dict_bounds,
    is_canonical,
)

Schema = dict[str, Any]
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class _Part:
    """What one pydantic-core schema becomes: a msgspec type and what is left to check."""

    type: Any
    check: Check | None = None  # of a non-null value
    nullable: bool = False
    uuid: bool = False  # a string still to be checked as a canonical UUID
    free_dicts: FreeDictBounds | None = None  # free-form JSON whose byte size is still open
    rules: tuple[AgreesWith | NotBefore, ...] = ()  # between fields
    known: bool = True
    moment: str = ""  # "timestamp" or "date": what rules between fields may compare


_UNKNOWN = _Part(Any, _decline, known=False)
_STR_OPTIONS = ("max_length", "min_length", "pattern", "to_upper", "to_lower", "strip_whitespace")
_TRANSFORMS = ("to_upper", "to_lower", "strip_whitespace")
_CONFIG_KEYS = {
    "title",
    "extra_fields_behavior",
    "allow_inf_nan",
    "str_max_length",
    "str_min_length",
    "str_to_upper",
    "str_to_lower",
    "str_strip_whitespace",
    "regex_engine",
}


def _only(schema: Schema, *allowed: str) -> bool:
    """Whether the schema holds nothing but `allowed` keys (anything else: a rule not known)."""
    return set(schema) <= {"type", "metadata", "strict", *allowed}


def _list_of(item: Any) -> Any:
    return list.__class_getitem__(item)


def _dict_of(key: Any, value: Any) -> Any:
    return dict.__class_getitem__((key, value))


def _constrained(base: Any, **bounds: Any) -> Any:
    given = {k: v for k, v in bounds.items() if v is not None}
    return Annotated[base, msgspec.Meta(**given)] if given else base


class _Deriver:
    """Turns pydantic-core schemas into parts, with the model's config."""

    def __init__(self, config: Schema) -> None:
        self.config = config

    def part(self, schema: Schema) -> _Part:
        handler = getattr(self, f"_{str(schema.get('type')).replace('-', '_')}", None)
        part: _Part = handler(schema) if handler is not None else _UNKNOWN
        return part

    def _str(self, schema: Schema) -> _Part:
        if not _only(schema, *_STR_OPTIONS):
            return _UNKNOWN
        options = {k: schema.get(k, self.config.get(f"str_{k}")) for k in _STR_OPTIONS}
        kind = _constrained(str, min_length=options["min_length"], max_length=options["max_length"])
        transforms = tuple(k for k in _TRANSFORMS if options[k])
        if not transforms and options["pattern"] is None:
            return _Part(kind)
        judge = SchemaValidator(
            cast(CoreSchema, schema), cast(CoreConfig, self.config)
        )  # pydantic-core itself: its regex engine
        return _Part(kind, _string_check(judge.isinstance_python, transforms))

    def _int(self, schema: Schema) -> _Part:
        names = ("ge", "le", "gt", "lt", "multiple_of")
        bounds = {k: schema.get(k) for k in names}
        if not _only(schema, *names) or any(
            v is not None and not _INT64_MIN <= v <= _INT64_MAX for v in bounds.values()
        ):
            return _UNKNOWN  # msgspec bounds are int64
        return _Part(_constrained(int, **bounds))

    def _float(self, schema: Schema) -> _Part:
        # msgspec never decodes inf or nan from JSON: allow_inf_nan can only make it stricter
        names = ("ge", "le", "gt", "lt")
        if not _only(schema, *names, "allow_inf_nan"):
            return _UNKNOWN
        return _Part(_constrained(float, **{k: schema.get(k) for k in names}))

    def _bool(self, schema: Schema) -> _Part:
        return _Part(bool) if _only(schema) else _UNKNOWN

    def _uuid(self, schema: Schema) -> _Part:
        if not _only(schema):
            return _UNKNOWN
        return _Part(_constrained(str, min_length=36, max_length=36), uuid=True)

    def _datetime(self, schema: Schema) -> _Part:
        if not _only(schema, "microseconds_precision"):
            return _UNKNOWN
        kind = _constrained(str, min_length=20, max_length=32)
        return _Part(kind, _utc_timestamp, moment="timestamp")

    def _date(self, schema: Schema) -> _Part:
        return _Part(dt.date, moment="date") if _only(schema) else _UNKNOWN

    def _literal(self, schema: Schema) -> _Part:
        expected = schema.get("expected", [])
        if not _only(schema, "expected") or not expected:
            return _UNKNOWN
        if not all(type(value) is str for value in expected):
            return _UNKNOWN
        return _Part(Literal.__getitem__(tuple(expected)))

    def _nullable(self, schema: Schema) -> _Part:
        if not _only(schema, "schema"):
            return _UNKNOWN
        inner = self.part(schema["schema"])
        return replace(inner, type=Union[inner.type, None], nullable=True)  # noqa: UP007

    def _list(self, schema: Schema) -> _Part:
        if not _only(schema, "items_schema", "min_length", "max_length"):
            return _UNKNOWN
        item = self.part(schema.get("items_schema", {"type": "any"}))
        if item.rules or not item.known:
            return _UNKNOWN
        kind = _constrained(
            _list_of(item.type),
            min_length=schema.get("min_length"),
            max_length=schema.get("max_length"),
        )
        return _Part(kind, _each(item), free_dicts=item.free_dicts)

    def _dict(self, schema: Schema) -> _Part:
        if not _only(schema, "keys_schema", "values_schema", "min_length", "max_length"):
            return _UNKNOWN
        keys = self.part(schema.get("keys_schema", {"type": "any"}))
        values = self.part(schema.get("values_schema", {"type": "any"}))
        for part in (keys, values):
            if not part.known or part.check or part.uuid or part.rules or part.free_dicts:
                return _UNKNOWN
        kind = _constrained(
            _dict_of(keys.type, values.type),
            min_length=schema.get("min_length"),
            max_length=schema.get("max_length"),
        )
        return _Part(kind)

    def _function_after(self, schema: Schema) -> _Part:
        if not _only(schema, "function", "schema"):
            return _UNKNOWN
        function = schema.get("function", {}).get("function")
        inner_schema = schema.get("schema", {})
        bounds = free_dict_bounds(function)
        if bounds is not None:
            return self._free_dict(inner_schema, bounds)
        inner = self.part(inner_schema)
        if not inner.known or inner.nullable:
            return _UNKNOWN
        if function is _as_utc and inner.check is _utc_timestamp:
            return inner  # the gate takes UTC timestamps only: _as_utc keeps them as they are
        if isinstance(function, AgreesWith) and inner.type is dt.date and not inner.rules:
            # kept as text, compared with the timestamp's text by the record check
            kind = _constrained(str, min_length=10, max_length=10)
            return _Part(kind, rules=(function,), moment="date")
        if isinstance(function, NotBefore) and inner.moment:
            return replace(inner, rules=(*inner.rules, function))
        if is_canonical(function) and not inner.rules and not inner.uuid:
            return replace(inner, check=_both(inner.check, _canonical(function)))
        return _UNKNOWN

    def _free_dict(self, schema: Schema, bounds: FreeDictBounds) -> _Part:
        """A free-form object as nested msgspec types that hold every bound but the size."""
        if schema.get("type") != "dict" or bounds.max_depth < 1:
            return _UNKNOWN
        if not _only(schema, "keys_schema", "values_schema", "max_length", "min_length"):
            return _UNKNOWN
        if schema.get("values_schema", {"type": "any"}).get("type") != "any":
            return _UNKNOWN
        keys = self.part(schema.get("keys_schema", {"type": "any"}))
        if keys.check is not None or not keys.known:
            return _UNKNOWN
        kind = _constrained(
            _dict_of(keys.type, _free_value(bounds, 1)),
            min_length=schema.get("min_length"),
            max_length=min(schema.get("max_length", bounds.max_keys), bounds.max_keys),
        )
        return _Part(kind, free_dicts=bounds)


def _free_value(bounds: FreeDictBounds, depth: int) -> Any:
    """The type of a value inside a container at `depth` (the top object is depth 1)."""
    scalar: Any = Union[  # noqa: UP007 - built at run time
        str,
        Annotated[int, msgspec.Meta(ge=_INT64_MIN, le=_INT64_MAX)],  # larger ones: pydantic
        float,
        bool,
        None,
    ]
    if depth >= bounds.max_depth:
        return scalar
    inner = _free_value(bounds, depth + 1)
    key = _constrained(str, max_length=bounds.max_key_length)
    items = _constrained(_list_of(inner), max_length=bounds.max_list_items)
    keyed = _constrained(_dict_of(key, inner), max_length=bounds.max_keys)
    return Union[scalar, items, keyed]  # noqa: UP007


def _string_check(judge: Callable[[Any], bool], transforms: tuple[str, ...]) -> Check:
    """pydantic-core's own verdict on the string, which pydantic's transforms must leave as it
    is (ASCII only: Python and Rust case mappings differ beyond it)."""

    @lru_cache(maxsize=4096)  # country codes, URLs: values repeat
    def check(value: str) -> None:
        if transforms and not (value.isascii() and _unchanged(value, transforms)):
            raise _Declined
        if not judge(value):
            raise _Declined

    return check


def _unchanged(value: str, transforms: tuple[str, ...]) -> bool:
    changed: dict[str, Callable[[str], str]] = {
        "to_upper": str.upper,
        "to_lower": str.lower,
        "strip_whitespace": str.strip,
    }
    return all(changed[transform](value) == value for transform in transforms)


def _canonical(rule: Callable[[str], str]) -> Check:
    """A valid value that is not canonical would be changed by pydantic: not taken here."""
    function = lru_cache(maxsize=4096)(rule)  # values repeat: IP addresses, zones

    def check(value: str) -> None:
        if function(value) != value:
            raise _Declined

    return check


def _both(first: Check | None, second: Check) -> Check:
    if first is None:
        return second
    run_first: Check = first

    def both(value: Any) -> None:
        run_first(value)
        second(value)

    return both


def _each(item: _Part) -> Check | None:
    """A list's check: its UUIDs at once, or each item's check."""
    if item.uuid and not item.nullable:
        return _check_uuid_list
    check = item.check
    if item.uuid or (check is not None and item.nullable):
        return _decline  # lists of optional checked items: not worth a rule of their own
    if check is None:
        return None

    def each(values: list[Any]) -> None:
        for value in values:
            check(value)

    return each
