"""The fast validation gate: a judge derived from a model that keeps no object per record.

`gate_for(model)(value)` returns the record as complete canonical JSON (every field, defaults and
derived dates filled as pydantic fills them) when it can tell cheaply that pydantic accepts it,
else None: the caller then runs `model.model_validate_json(value)`, the one judge, which also
gives a dead letter its reason. The gate never accepts what pydantic rejects; it may send a
valid record to pydantic.

How: a `msgspec.Struct` derived from the model's pydantic-core schema (the schema pydantic runs)
decodes the record with the same types and bounds; what msgspec cannot express is checked by
one generated function (canonical UUIDs, UTC timestamps, patterns through pydantic-core itself,
the declared rules of `ownlens_kafka.models._types`); `msgspec.json.encode` writes the JSON.

Taken only in canonical form (anything else goes to pydantic): lowercase hyphenated UUIDs,
timestamps `YYYY-MM-DDTHH:MM:SS[.ffffff]` with `Z` or `+00:00` (kept as text: their UTC date is
their first ten characters), `YYYY-MM-DD` dates, JSON ints for ints, true/false for bools,
values already upper-cased or canonical (IP addresses), free-form integers within int64. A rule
the derivation does not know sends every record with that field present (and not null) to
pydantic; so does a missing field whose default is random or the time (uuid4, utc_now).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import Annotated, Any, Literal, Union, cast

import msgspec
from pydantic_core import CoreConfig, CoreSchema, SchemaValidator

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    AgreesWith,
    DateOf,
    FreeDictBounds,
    NotBefore,
    _as_utc,
    free_dict_bounds,
    is_canonical,
)

Schema = dict[str, Any]
Check = Callable[[Any], Any]  # raises Rejected (or anything) when the value cannot pass

UNSET = msgspec.UNSET
_UTC = dt.UTC
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Re-encoded free-form JSON is at most 8x its raw bytes (a 3-byte float such as 1e9 becomes at
# most 24 bytes; strings, ints and structure never grow), so small records need no size check.
_SIZE_FACTOR = 8


class Rejected(Exception):
    """The gate cannot accept the record: pydantic decides."""


def _reject(_value: Any = None) -> Any:
    raise Rejected


# Canonical UUIDs, timestamps and dates, each checked by one bytes.translate ---------------------


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
        raise Rejected


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
        raise Rejected
    if _fromisoformat(text).tzinfo is not _UTC:  # ValueError for instants that do not exist
        raise Rejected


def _plain_date(text: str) -> None:
    """A `YYYY-MM-DD` date that exists."""
    if text.encode().translate(_DIGITS_TABLE) != _DATE_SHAPE:
        raise Rejected
    _date_fromisoformat(text)


def _comparable(value: Any) -> Any:
    """A timestamp or a date as the gate keeps it (text), made comparable."""
    if isinstance(value, str):
        return (
            _fromisoformat(value) if len(value) > len("YYYY-MM-DD") else _date_fromisoformat(value)
        )
    return value


# From pydantic-core schemas to msgspec types and checks -----------------------------------------


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


_UNKNOWN = _Part(Any, _reject, known=False)
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
            raise Rejected
        if not judge(value):
            raise Rejected

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
            raise Rejected

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
        return _reject  # lists of optional checked items: not worth a rule of their own
    if check is None:
        return None

    def each(values: list[Any]) -> None:
        for value in values:
            check(value)

    return each


def _check_uuid_list(values: list[str]) -> None:
    _check_uuids("".join(values))


# The record check, generated once per model -----------------------------------------------------

_PLAIN_DEFAULTS = (type(None), bool, int, float, str)
_ASK = object()  # a default the gate cannot know: a record without the field goes to pydantic


@dataclass(frozen=True)
class _Derived:
    """A derived default: the UTC date (first ten characters) of an earlier timestamp."""

    source: str


@dataclass
class _Plan:
    """The struct fields and the record check's code, in declaration order."""

    struct_fields: list[tuple[str, Any, Any]] = field(default_factory=list)
    required: list[str] = field(default_factory=list)  # absent: ask pydantic
    uuids: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # code: each field's own check
    fills: list[str] = field(default_factory=list)  # code: defaults set after the checks
    rules: list[str] = field(default_factory=list)  # code: derived dates, rules between fields
    moments: dict[str, str] = field(default_factory=dict)  # field -> "timestamp" or "date"
    names: dict[str, Any] = field(default_factory=dict)
    sized: list[tuple[str, FreeDictBounds]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    declared: list[str] = field(default_factory=list)  # the fields planned so far

    def bind(self, value: Any) -> str:
        """A name for `value` in the generated code's namespace."""
        for name, bound in self.names.items():
            if bound is value:
                return name
        name = f"_v{len(self.names)}"
        self.names[name] = value
        return name


def _default(schema: Schema, moments: dict[str, str]) -> Any:
    """A plain default value, `dict` or `list` (factories), a `_Derived`, or `_ASK`."""
    if not _only(schema, "schema", "default", "default_factory", "default_factory_takes_data"):
        return _ASK
    if "default" in schema:
        value = schema["default"]
        return value if type(value) in _PLAIN_DEFAULTS else _ASK
    factory = schema.get("default_factory")
    if factory is dict or factory is list:
        return factory
    if isinstance(factory, DateOf) and moments.get(factory.source) == "timestamp":
        return _Derived(factory.source)  # the UTC date of an earlier timestamp
    return _ASK  # random or time-based (uuid4, utc_now), or unknown


def _passes(check: Check, default: Any) -> bool:
    """Whether the check lets the default through (then msgspec may fill it in)."""
    try:
        check(default() if default is dict or default is list else default)
    except Exception:
        return False
    return True


def _plan_field(plan: _Plan, deriver: _Deriver, name: str, schema: Schema) -> None:
    default: Any = msgspec.NODEFAULT  # required
    if schema.get("type") == "default":
        default = _default(schema, plan.moments)
        schema = schema["schema"]
    part = deriver.part(schema)
    if not part.known:
        plan.unknown.append(name)
    check = part.check
    struct_default: Any = UNSET
    if default is _ASK:
        plan.required.append(name)
    elif isinstance(default, _Derived):
        pass  # filled below, in field order
    elif default is msgspec.NODEFAULT:
        struct_default = default
    elif (
        check is not None
        and not (part.nullable and default is None)
        and not _passes(check, default)
    ):
        plan.fills.append(f"    if r.{name} is UNSET: r.{name} = {plan.bind(default)}")
        if default is dict or default is list:
            plan.fills[-1] += "()"
    elif default is dict or default is list:
        struct_default = msgspec.field(default_factory=default)
    else:
        struct_default = default
    unset = struct_default is UNSET
    kind = Union[part.type, msgspec.UnsetType] if unset else part.type  # noqa: UP007
    plan.struct_fields.append((name, kind, struct_default))
    if part.uuid:
        plan.uuids.append(name)
    if check is not None:
        skip = [
            f"v is not {word}" for word, on in (("UNSET", unset), ("None", part.nullable)) if on
        ]
        plan.checks.append(f"    v = r.{name}")
        plan.checks.append(
            f"    {'if ' + ' and '.join(skip) + ': ' if skip else ''}{plan.bind(check)}(v)"
        )
    for rule in part.rules:
        code = _rule_code(plan, rule, name, part.moment)
        if code is None:  # comparing values the gate keeps as different things: not taken
            plan.unknown.append(name)
            plan.checks.append(
                f"    if r.{name} is not None and r.{name} is not UNSET: raise Rejected"
            )
        plan.rules.extend(code or [])
    if isinstance(default, _Derived):  # after the rules: pydantic does not check a default
        plan.rules.append(f"    if r.{name} is UNSET: r.{name} = r.{default.source}[:10]")
    if part.moment:
        plan.moments[name] = part.moment
    plan.declared.append(name)
    if part.free_dicts is not None:
        plan.sized.append((name, part.free_dicts))


def _rule_code(plan: _Plan, rule: Any, name: str, moment: str) -> list[str] | None:
    """A rule between fields as code. pydantic's rules see only the fields declared before
    (`info.data`, so `plan.moments` so far) and compare them only when they are datetimes (a
    derived date) or of one kind (ordering): so do these."""
    if isinstance(rule, AgreesWith):
        if plan.moments.get(rule.source) != "timestamp":
            return [f"    if r.{name} is not UNSET: {plan.bind(_plain_date)}(r.{name})"]
        return [  # a timestamp the gate took is canonical UTC text: its date is its start
            f"    v = r.{name}",
            "    if v is not UNSET:",
            f"        if type(r.{rule.source}) is str:",
            f"            if v != r.{rule.source}[:10]: raise Rejected",
            f"        else: {plan.bind(_plain_date)}(v)",
        ]
    code = [f"    v = r.{name}", "    if v is not None and v is not UNSET:"]
    comparable = plan.bind(_comparable)
    for source in rule.sources:
        if source not in plan.moments and source in plan.declared:
            return None  # an earlier field that is no timestamp nor date
        if source not in plan.moments:
            continue  # declared later: pydantic does not see it
        if plan.moments[source] != moment:
            return None
        code.append(f"        w = r.{source}")
        code.append(
            f"        if w is not None and w is not UNSET and {comparable}(v) < {comparable}(w):"
            " raise Rejected"
        )
    return code if len(code) > 2 else []


def _compile(plan: _Plan) -> Check:
    """The record check as one function: no call per field (this runs for every record)."""
    code = ["def check(r):"]
    if plan.required:
        code.append(
            f"    if {' or '.join(f'r.{n} is UNSET' for n in plan.required)}: raise Rejected"
        )
    if plan.uuids:
        values = "".join(f"r.{n}, " for n in plan.uuids)
        code.append(f"    _check_uuids(''.join(filter(None, ({values}))))")  # None, UNSET: falsy
    code += plan.checks + plan.fills + plan.rules + ["    return None"]
    namespace = {**plan.names, "UNSET": UNSET, "Rejected": Rejected, "_check_uuids": _check_uuids}
    exec("\n".join(code), namespace)
    check: Check = namespace["check"]
    check.__doc__ = "\n".join(code)  # what was generated, for a reader
    return check


# The gate ---------------------------------------------------------------------------------------


class Gate:
    """`gate(value)`: canonical JSON of the record, or None to let pydantic decide."""

    def __init__(self, model: type[EventModel]) -> None:
        self.model = model
        self.unknown: tuple[str, ...] = ()  # fields taken only when absent or null
        self.reason = ""  # why every record goes to pydantic, if it does
        self.check: Check = _reject
        self._sized: tuple[tuple[str, FreeDictBounds], ...] = ()
        self._raw_limit = 0
        self._decode: Callable[[bytes], Any] = _reject
        self._encode: Callable[[Any], bytes] = msgspec.json.Encoder().encode
        try:
            self._derive()
        except Exception as exc:  # a schema the derivation cannot read: pydantic for all
            self.reason = f"{type(exc).__name__}: {exc}"
            self._decode = _reject

    @property
    def fast(self) -> bool:
        """Whether any record can pass the gate."""
        return not self.reason

    def __call__(self, value: bytes) -> bytes | None:
        try:
            record = self._decode(value)
            self.check(record)
            if len(value) > self._raw_limit:
                self._check_sizes(record)
            return self._encode(record)
        except Exception:  # Rejected, msgspec errors, anything: pydantic gives the reason
            return None

    def _check_sizes(self, record: Any) -> None:
        for name, bounds in self._sized:
            value = getattr(record, name)
            for item in value if isinstance(value, list) else (value,):
                if item is not None and bounds.problem(item) is not None:
                    raise Rejected

    def _derive(self) -> None:
        schema = cast(Schema, self.model.__pydantic_core_schema__)
        if schema.get("type") != "model" or not _only(
            schema, "cls", "schema", "config", "ref", "custom_init", "root_model"
        ):
            raise TypeError("the model schema has wrappers (model validators, serializers)")
        if schema.get("custom_init") or schema.get("root_model"):
            raise TypeError("custom __init__ or root model")
        config = schema.get("config", {})
        if not set(config) <= _CONFIG_KEYS or config.get("extra_fields_behavior") == "allow":
            raise TypeError(f"model config {sorted(set(config) - _CONFIG_KEYS)}")
        fields_schema = schema["schema"]
        if fields_schema.get("type") != "model-fields" or fields_schema.get("computed_fields"):
            raise TypeError("computed fields")
        if not _only(fields_schema, "fields", "model_name", "computed_fields"):
            raise TypeError(f"model fields {sorted(fields_schema)}")
        plan = _Plan()
        deriver = _Deriver(config)
        for name, spec in fields_schema["fields"].items():
            if not _only(spec, "schema") or not name.isidentifier():
                raise TypeError(f"field {name!r}: {sorted(spec)} (aliases, exclusion)")
            _plan_field(plan, deriver, name, spec["schema"])
        struct = msgspec.defstruct(
            f"{self.model.__name__}Gate",
            plan.struct_fields,
            kw_only=True,
            forbid_unknown_fields=config.get("extra_fields_behavior") == "forbid",
            gc=False,  # flat records: no reference cycles to collect
        )
        self._decode = msgspec.json.Decoder(struct, strict=True).decode
        self.check = _compile(plan)
        self._sized = tuple(plan.sized)
        limits = [bounds.max_bytes for _, bounds in plan.sized]
        self._raw_limit = min(limits) // _SIZE_FACTOR if limits else 2**62
        self.unknown = tuple(plan.unknown)


@cache
def gate_for(model: type[EventModel]) -> Gate:
    """The model's gate (built once per model)."""
    return Gate(model)
