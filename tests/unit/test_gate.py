"""The fast gate against pydantic, the one judge: hypothesis-made records for all ten models,
valid and near-valid, through both paths.

For every record: the gate accepts only what pydantic accepts (else it returns None), and for
an accepted record its JSON types (ownlens_pipelines.json_rows) to exactly the row that
pydantic's event gives through today's conversion (schema.events_table), every column.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, cast
from uuid import uuid4

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, Field, ValidationError, model_validator

from ownlens_kafka.consumer import ConsumedEvent
from ownlens_kafka.gate import gate_for
from ownlens_kafka.models import EventModel, InternalContentCreate, UserEventCreate
from ownlens_kafka.models._types import (
    AgreesWith,
    DateOf,
    UtcDatetime,
    canonical,
    date_of,
    free_dict_bounds,
    is_canonical,
    not_before,
)
from ownlens_pipelines.json_rows import typed_select
from ownlens_pipelines.schema import events_table, model_columns
from tests.factories import MODELS, valid_payload

ModelCls = type[EventModel]
EXAMPLES = 150  # hypothesis records per model
by_name = pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)


# Both judges ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


def _typed(value: Any) -> Any:
    """A parsed JSON value with its types kept (1 and 1.0 differ in a JSON column)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def assert_rows_equal(
    model: ModelCls, accepted: list[tuple[bytes, bytes, EventModel]], con: Any
) -> None:
    """For each (record, gate JSON, pydantic event): the row DuckDB types from the gate's JSON
    equals the row of today's conversion of the event, every column (JSON as parsed JSON)."""
    if not accepted:
        return
    columns = model_columns(model)
    names = ", ".join(f'"{c.name}"' for c in columns)
    gate_source = pa.table(
        {"_value": [a[1].decode() for a in accepted], "_n": range(len(accepted))}
    )
    con.register("gate_source", gate_source)
    typed = con.execute(
        f"SELECT * FROM ({typed_select(model, 'gate_source')}) ORDER BY _n"
    ).fetchall()
    items = [ConsumedEvent(a[2], None, "topic", 0, n, []) for n, a in enumerate(accepted)]
    con.register("pydantic_source", events_table(model, items))
    expected = con.execute(f"SELECT {names} FROM pydantic_source ORDER BY _offset").fetchall()
    assert len(typed) == len(expected) == len(accepted)
    for (value, _, _), got_row, want_row in zip(accepted, typed, expected, strict=True):
        for column, got, want in zip(columns, got_row, want_row, strict=False):
            if column.sql_type == "JSON":
                got, want = (None if v is None else _typed(json.loads(v)) for v in (got, want))
            assert got == want, f"{column.name}: {got!r} != {want!r} for {value!r}"
            assert type(got) is type(want), f"{column.name} for {value!r}"


def judge(model: ModelCls, value: bytes, accepted: list[tuple[bytes, bytes, EventModel]]) -> str:
    """Both paths on one record; fails on any disagreement. An accepted record is added to
    `accepted` for the row comparison. Returns the outcome's label."""
    gate_json = gate_for(model)(value)
    try:
        event_ = model.model_validate_json(value)
    except ValidationError:
        assert gate_json is None, f"gate accepted what pydantic rejects: {value!r}"
        return "both reject"
    if gate_json is None:
        return "slow path (valid)"
    canonical = model.__pydantic_serializer__.to_json(event_)
    parsed, reference = json.loads(gate_json), json.loads(canonical)
    assert list(parsed) == list(reference) == list(model.model_fields)
    for column in model_columns(model):  # the same JSON, timestamps as instants
        got, want = parsed[column.name], reference[column.name]
        if column.sql_type == "TIMESTAMPTZ" and got is not None:
            assert got.endswith(("Z", "+00:00")), f"{column.name}: {got!r} is not in UTC"
            got, want = _instant(got), _instant(want)
        assert _typed(got) == _typed(want), f"{column.name}: {got!r} != {want!r} for {value!r}"
    assert model.model_validate_json(gate_json) == event_, value
    accepted.append((value, gate_json, event_))
    return "gate accepts"


def judge_one(model: ModelCls, value: bytes, con: Any) -> str:
    accepted: list[tuple[bytes, bytes, EventModel]] = []
    outcome = judge(model, value, accepted)
    assert_rows_equal(model, accepted, con)
    return outcome


# Record strategies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON token written as it is (1e400, -0, 1E2, a 10,000-deep nesting...)."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object written with its pairs in order, duplicate keys included."""

    items: tuple[tuple[str, Any], ...]


def dumps(value: Any, ascii_only: bool = False) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs | dict):
        items = value.items if isinstance(value, Pairs) else tuple(value.items())
        pairs = (f"{dumps(k, ascii_only)}:{dumps(v, ascii_only)}" for k, v in items)
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


@dataclass(frozen=True)
class Kind:
    """What a field holds, read from the model's pydantic-core schema (test side)."""

    name: str
    nullable: bool = False
    min_length: int | None = None
    max_length: int | None = None
    ge: float | None = None
    le: float | None = None
    values: tuple[str, ...] = ()
    pattern: str = ""
    canonical: str = ""
    item: Kind | None = None
    rules: tuple[Any, ...] = field(default=())


def kind_of(schema: dict[str, Any], config: dict[str, Any]) -> Kind:
    kind = schema["type"]
    if kind in ("default", "nullable"):
        inner = kind_of(schema["schema"], config)
        return replace(inner, nullable=inner.nullable or kind == "nullable")
    if kind == "function-after":
        function = schema["function"]["function"]
        if free_dict_bounds(function) is not None:
            return Kind("free")
        inner = kind_of(schema["schema"], config)
        if is_canonical(function):
            return replace(inner, canonical=function.__name__)
        return replace(inner, rules=(*inner.rules, function))
    if kind == "list":
        return Kind(
            "list",
            max_length=schema.get("max_length"),
            item=kind_of(schema["items_schema"], config),
        )
    if kind == "literal":
        return Kind("literal", values=tuple(schema["expected"]))
    if kind == "str":
        limit = schema.get("max_length", config.get("str_max_length"))
        return Kind(
            "str",
            min_length=schema.get("min_length"),
            max_length=limit,
            pattern=schema.get("pattern", ""),
        )
    return Kind(kind, ge=schema.get("ge"), le=schema.get("le"))


def kinds(model: ModelCls) -> dict[str, Kind]:
    core = cast(dict[str, Any], model.__pydantic_core_schema__)
    fields = core["schema"]["fields"]
    return {name: kind_of(spec["schema"], core["config"]) for name, spec in fields.items()}


MIN_DT, MAX_DT = datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999_999)
A_UUID = "6f1d2c2e-2b8a-4c3e-9a43-0d6d9c1f7a11"
WRONG_TYPES: list[Any] = [None, [], {}, [1], {"a": 1}, 1, 1.5, True, "x", Raw("1e400")]
UNICODE = st.text(
    st.characters(codec="utf-8") | st.sampled_from('\x00\n\x1c\u0085\u00a0\u2028😀é\\"\u017fK'),
    max_size=12,
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | UNICODE
    | st.sampled_from([Raw("1e400"), Raw("-1e400"), Raw("1E2"), Raw("-0"), Raw("1e-400")])
    | st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 0.1, 1.0, -0.0])
)

# Each kind's valid, boundary and hostile values: every one is tried on every field of the kind.
UUID_EDGES: list[Any] = [
    A_UUID,
    A_UUID.upper(),
    A_UUID.replace("-", ""),
    "{" + A_UUID + "}",
    "urn:uuid:" + A_UUID,
    A_UUID[:-1] + "g",
    A_UUID[:35],
    A_UUID + "\n",
    A_UUID.replace("-", "", 1) + "0",
    "",
    "00000000-0000-0000-0000-000000000000",
]
TIMESTAMP_EDGES: list[Any] = [
    "2025-03-14T09:26:53Z",
    "2025-03-14T09:26:53.5Z",
    "2025-03-14T09:26:53.123456Z",
    "2025-03-14T09:26:53.123456+00:00",
    "2025-03-14T23:30:00+01:00",
    "2025-03-14T23:30:00-01:00",
    "2025-03-14T00:30:00+23:59",
    "2025-03-14T09:26:53-00:00",
    "2025-03-14T09:26:53",
    "2025-03-14T09:26:53.1234567Z",
    "2025-03-14T09:26:53.123456789Z",
    "2025-03-14T09:26:53.9999995Z",
    "2025-03-14t09:26:53z",
    "2025-03-14 09:26:53Z",
    "2025-03-14T09:26:53,5Z",
    "2025-03-14T09:26Z",
    "2025-03-14T09:26:53+0100",
    "2025-03-14T09:26:53+24:00",
    "2025-03-14",
    "2025-03-14T24:00:00Z",
    "2025-03-14T23:59:60Z",
    "2025-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:30:00+01:00",  # before year 1 once in UTC
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:30:00-01:00",  # after 9999 once in UTC
    "0000-01-01T00:00:00Z",
    "\uff12\uff10\uff12\uff15-03-14T09:26:53Z",  # full-width digits
    "2025-03-14T09:26:53Z\n",
    1_700_000_000,
    1.7e9,
]
DATE_EDGES: list[Any] = [
    "2025-03-14",
    "2025-03-15",
    "0001-01-01",
    "9999-12-31",
    "2024-02-29",
    "2025-02-29",
    "20250314",
    "2025-03-14T00:00:00",
    "2025-3-14",
    "2025-03-14\n",
    20_250_314,
]
URL_EDGES = [
    "https://example.com/a?token=x",
    "HTTP://EXAMPLE.COM",
    "https://example.com/\n",  # Python's $ matches before a final newline, Rust's does not
    "https://example.com/a\x1cb",  # Python's \s has \x1c, Rust's has not
    "https://example.com/a\u00a0b",
    "https://example.com/a\u2028b",
    "https://exa\u0085mple.com",
    "http\u017f://example.com",  # long s: case folding beyond ASCII
    "https://café.example/é",
    "https:///x",
    "ftp://example.com",
    "https://example.com/" + "a" * 980,
    "https://example.com/" + "a" * 981,
]
COUNTRY_EDGES = ["FR", "fr", "Fr", "F1", "é1", "\u017fS", "FRA", "K", "\u212a\u212a"]
TIMEZONE_EDGES = ["Europe/Paris", "UTC", "America/Argentina/Buenos_Aires", "Mars/Olympus"]
TIMEZONE_EDGES += ["../etc/passwd", "Europe", "Europe/Paris\x00", "europe/paris", ""]
IP_EDGES = ["203.0.113.42", "2001:db8::1", "2001:DB8::1", "2001:db8:0:0::1", "01.2.3.4"]
IP_EDGES += ["::ffff:1.2.3.4", "1.2.3", "fe80::1%eth0", "999.1.1.1", ""]


def nested(depth: int) -> Any:
    value: Any = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"c": value}
    return value


HUNDRED = {f"k{i}": i for i in range(100)}
FREE_EDGES: list[Any] = [
    {},
    {"a": 1, "b": 1.5, "c": "x", "d": None, "e": True, "f": [1, "x"], "g": {"h": -0.0}},
    nested(5),
    nested(6),
    {"a": [[[[1]]]]},
    {"a": [[[[[1]]]]]},
    HUNDRED,
    {**HUNDRED, "x": 1},
    {"a": {**HUNDRED, "x": 1}},
    {"k" * 100: 1, "a": {"k" * 100: 1}},
    {"k" * 101: 1},
    {"a": {"k" * 101: 1}},
    {"😀" * 100: 1},
    {"a": list(range(1000))},
    {"a": list(range(1001))},
    {"blob": "x" * 65_520},
    {"blob": "x" * 65_530},
    {"blob": "\x00" * 10_920},  # six bytes each once escaped
    {"blob": "\x00" * 10_925},
    {"blob": "😀" * 16_380},
    {"blob": "😀" * 16_384},
    {"n": 2**63 - 1},
    {"n": 2**64},
    {"n": -(2**63) - 1},
    {"n": Raw("1" + "0" * 4300)},
    {"n": Raw("1e400")},
    {"n": Raw("1E2")},
    {"n": Raw("1e-400")},
    Raw('{"a":1,"a":"x"}'),
    Raw('{"a":"x","a":1}'),
    Raw('{"d":' + "[" * 10_000 + "]" * 10_000 + "}"),
    Raw('{"a":"\\ud800"}'),
    [],
]


def edges(kind: Kind) -> list[Any]:
    """Valid, boundary and hostile values of a kind (plus wrong JSON types)."""
    found: list[Any]
    if kind.name == "uuid":
        found = UUID_EDGES
    elif kind.name == "datetime":
        found = TIMESTAMP_EDGES
    elif kind.name == "date":
        found = DATE_EDGES
    elif kind.name == "str":
        limit = kind.max_length or 50
        lengths = sorted({0, 1, 2, (kind.min_length or 0), limit - 1, limit, limit + 1})
        found = [c * n for n in lengths for c in ("x", "😀", "\x00")]
        found += ["a\nb", " x ", "\\", '"', "\u2028", Raw('"\\ud800"'), Raw('"\\ud83d\\ude00"')]
        if "http" in kind.pattern:
            found += URL_EDGES
        if "{2}" in kind.pattern:
            found += COUNTRY_EDGES
        if kind.canonical == "_check_timezone":
            found += TIMEZONE_EDGES
        if kind.canonical == "_check_ip_address":
            found += IP_EDGES
    elif kind.name in ("int", "float"):
        found = [0, 1, -1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 1.0, 0.5, "1", Raw("1E2")]
        found += [
            bound + delta
            for bound in (kind.ge, kind.le)
            if bound is not None
            for delta in (-1, 0, 1)
        ]
        if kind.name == "float":
            found += [1.0000001, 0.9999999999999999, -0.0, 5e-324, 1.7976931348623157e308, 2**70]
            found += [Raw("1e400"), Raw("1e-400"), Raw("0.99999999999999999999"), Raw("-0")]
    elif kind.name == "bool":
        found = [True, False, 0, 1, "true"]
    elif kind.name == "literal":
        first = kind.values[0]
        found = [*kind.values, first.swapcase(), first.lower(), "", f"{first} ", f"{first}\n"]
    elif kind.name == "free":
        found = FREE_EDGES
    elif kind.name == "list" and kind.item is not None:
        items = edges(kind.item)
        good = items[0]
        limit = kind.max_length or 10
        found = [[], [good], [good] * limit, [good] * (limit + 1), [good, None]]
        found += [[item] for item in items[1:]]
    else:
        found = []
    return [*found, *WRONG_TYPES]


def value_for(kind: Kind) -> st.SearchStrategy[Any]:
    """An edge value, or a random one of the kind."""
    randoms: dict[str, st.SearchStrategy[Any]] = {
        "uuid": st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()),
        "datetime": timestamps(),
        "date": st.dates().map(date.isoformat),
        "str": UNICODE,
        "int": st.integers(-(2**65), 2**65),
        "float": st.floats(allow_nan=False, allow_infinity=False),
        "free": st.dictionaries(st.text(max_size=8), json_tree(3), max_size=4),
    }
    base = st.sampled_from(edges(kind))
    if kind.name == "list" and kind.item is not None:
        return base | st.lists(value_for(kind.item), max_size=4)
    return base | randoms[kind.name] if kind.name in randoms else base


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(MIN_DT, MAX_DT))
    separator = draw(st.sampled_from("TTTTTT t"))
    text = moment.strftime("%Y-%m-%d").zfill(10) + separator + moment.strftime("%H:%M:%S")
    digits = draw(st.sampled_from([0, 0, 1, 3, 6, 6, 7, 9]))
    if digits:
        fraction = f"{moment.microsecond:06d}" + draw(st.text("0123456789", min_size=3, max_size=3))
        text += draw(st.sampled_from("...,")) + fraction[:digits]
    zone = draw(st.sampled_from(["Z", "Z", "+00:00", "+", "-", "", "z", "-00:00", "+0100"]))
    if zone in ("+", "-"):
        minutes = draw(st.integers(1, 1439))
        zone += f"{minutes // 60:02d}:{minutes % 60:02d}"
    return text + zone


def json_tree(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return JSON_SCALARS
    inner = json_tree(depth - 1)
    keys = st.text(max_size=4) | st.sampled_from(["k" * 100, "k" * 101, "😀" * 100, "\x00"])
    return JSON_SCALARS | st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3)


def base_payload(model: ModelCls, canonical: bool) -> dict[str, Any]:
    """A valid payload as a caller writes it (derived dates left out), or as our producers do."""
    payload = valid_payload(model)
    if canonical:
        payload = json.loads(model.__pydantic_serializer__.to_json(model.model_validate(payload)))
    return payload


@st.composite
def records(draw: st.DrawFn, model: ModelCls) -> bytes:
    """A record of `model`: a valid one with up to three changes, each drawn for the field's kind,
    then written with JSON-level variations (duplicate keys, escapes, cuts, bad bytes)."""
    fields = kinds(model)
    payload = base_payload(model, draw(st.booleans()))
    for name, kind in fields.items():  # ids from hypothesis, so examples replay
        if kind.name == "uuid" and name in payload:
            payload[name] = str(draw(st.uuids()))
    names = sorted(fields)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(names))
        change = draw(st.sampled_from(["value"] * 5 + ["drop", "extra", "date"]))
        if change == "value":
            payload[name] = draw(value_for(fields[name]))
        elif change == "drop":
            payload.pop(name, None)
        elif change == "extra":
            payload[draw(st.sampled_from([name.upper(), name + "_", "schema_version", "x"]))] = 1
        else:
            payload.update(aligned_date(model, payload, name, draw(st.sampled_from([0, 0, 1, -1]))))
    items = list(payload.items())
    if items and draw(st.integers(0, 9)) == 0:  # a duplicate key, before or after
        key, _ = draw(st.sampled_from(items))
        extra = (key, draw(value_for(fields[key])) if key in fields else 1)
        items.insert(draw(st.integers(0, len(items))), extra)
    text = dumps(Pairs(tuple(items)), ascii_only=draw(st.booleans()))
    if draw(st.integers(0, 19)) == 0:
        text = draw(st.sampled_from([f" {text}\n", text[:-1], text + "x", "[" + text + "]"]))
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 29)) == 0:
        data = data[: len(data) // 2] + b"\xff" + data[len(data) // 2 :]
    return data


def aligned_date(model: ModelCls, payload: dict[str, Any], name: str, days: int) -> dict[str, Any]:
    """`name`, if a derived date, set to its timestamp's UTC date `days` off (0: agreeing)."""
    for rule in kinds(model)[name].rules:
        moment = _instant(payload.get(getattr(rule, "source", "")))
        if moment is not None and date.min + timedelta(1) < moment.date() < date.max:
            return {name: (moment.date() + timedelta(days=days)).isoformat()}
    return {}


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# The differential test ---------------------------------------------------------------------------


def differential(
    model: ModelCls, strategy: st.SearchStrategy[bytes], examples: int, con: Any
) -> None:
    """Both judges on `examples` records; the rows of every accepted one compared at the end
    (DuckDB once per test: per record it would be too slow)."""
    accepted: list[tuple[bytes, bytes, EventModel]] = []

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(strategy)
    def decisions(value: bytes) -> None:
        event(judge(model, value, accepted))

    decisions()
    assert_rows_equal(model, accepted, con)


@by_name
def test_gate_agrees_with_pydantic(model: ModelCls, con: Any) -> None:
    differential(model, records(model), EXAMPLES, con)


FIELDS = [(m, name) for m in MODELS for name in m.model_fields]


@pytest.mark.parametrize(("model", "name"), FIELDS, ids=lambda v: getattr(v, "__name__", v))
def test_each_field_against_pydantic(model: ModelCls, name: str, con: Any) -> None:
    """Each field in turn: every edge value of its kind, in a record as callers write it and as
    our producers do, and the field left out; a derived date also agreeing or a day off."""
    accepted: list[tuple[bytes, bytes, EventModel]] = []
    kind = kinds(model)[name]
    for as_producers_write in (False, True):
        payload = base_payload(model, as_producers_write)
        variants = [{**payload, name: value} for value in edges(kind)]
        variants.append({k: v for k, v in payload.items() if k != name})
        for source in (r.source for r in kind.rules if isinstance(r, AgreesWith)):
            for stamp in TIMESTAMP_EDGES:
                base = {k: v for k, v in payload.items() if k != name} | {source: stamp}
                variants += [base | aligned_date(model, base, name, d) for d in (0, 1)]
        for variant in variants:
            judge(model, dumps(variant).encode("utf-8", "surrogatepass"), accepted)
    assert_rows_equal(model, accepted, con)


# What the gate takes, sends on, and derives --------------------------------------------------


@by_name
def test_records_made_by_our_producers_all_take_the_fast_path(model: ModelCls, con: Any) -> None:
    gate = gate_for(model)
    serialize = model.__pydantic_serializer__.to_json
    values = [serialize(model.model_validate(valid_payload(model))) for _ in range(200)]
    assert all(gate(value) is not None for value in values)
    assert judge_one(model, values[0], con) == "gate accepts"


@by_name
def test_every_rule_of_the_ten_models_is_derived(model: ModelCls) -> None:
    gate = gate_for(model)
    assert gate.fast, gate.reason
    assert gate.unknown == ()


def test_missing_random_or_time_defaults_go_to_pydantic() -> None:
    gate = gate_for(UserEventCreate)
    payload = json.loads(
        UserEventCreate.model_validate(valid_payload(UserEventCreate)).model_dump_json()
    )
    del payload["event_date"]
    assert gate(json.dumps(payload).encode()) is not None  # derived from event_timestamp
    for name in ("event_id", "event_timestamp"):
        assert gate(json.dumps({k: v for k, v in payload.items() if k != name}).encode()) is None


def test_derived_date_is_filled_from_the_timestamp() -> None:
    payload = json.loads(
        UserEventCreate.model_validate(valid_payload(UserEventCreate)).model_dump_json()
    )
    payload["event_timestamp"] = "2025-03-14T23:59:59.999999Z"
    del payload["event_date"]
    accepted = gate_for(UserEventCreate)(json.dumps(payload).encode())
    assert accepted is not None
    assert json.loads(accepted)["event_date"] == "2025-03-14"
    payload["event_date"] = "2025-03-15"
    assert gate_for(UserEventCreate)(json.dumps(payload).encode()) is None


def _uppercase_only(value: str) -> str:
    if value != value.upper():
        raise ValueError("not upper-case")
    return value


@canonical
def _stripped(value: str) -> str:
    return value.strip()


class Custom(EventModel):
    """A model with rules the derivation does not know."""

    code: Annotated[str, AfterValidator(_uppercase_only)] | None = None
    known: Annotated[str, AfterValidator(_stripped)] = "x"
    stamp: UtcDatetime = Field(default_factory=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    day: date = Field(default_factory=date_of("stamp"))


class Misdeclared(EventModel):
    """Rules between fields that are no timestamps: pydantic compares them as they are."""

    label: str = "2025-03-14T10:00:00Z"
    later: Annotated[str, not_before("label")] | None = None
    day: Annotated[date, AfterValidator(AgreesWith("label"))] | None = None
    other: date = Field(default_factory=DateOf("label"))


class WithModelValidator(EventModel):
    """A model-level validator: nothing for the gate to derive."""

    name: str

    @model_validator(mode="after")
    def _check(self) -> WithModelValidator:
        return self


def test_an_unknown_rule_sends_records_with_the_field_to_pydantic(con: Any) -> None:
    gate = gate_for(Custom)
    assert gate.unknown == ("code",)
    scope = {"company_id": str(uuid4()), "brand_id": str(uuid4()), "stamp": "2025-01-01T00:00:00Z"}
    assert gate(json.dumps(scope).encode()) is not None
    assert gate(json.dumps({**scope, "code": None}).encode()) is not None
    assert gate(json.dumps({**scope, "code": "ABC"}).encode()) is None  # valid, but unknown rule
    assert gate(json.dumps({**scope, "known": " y"}).encode()) is None  # not canonical
    unknown_default = {k: v for k, v in scope.items() if k != "stamp"}
    assert gate(json.dumps(unknown_default).encode()) is None  # a factory the gate cannot know


def test_rules_between_fields_that_are_no_timestamps(con: Any) -> None:
    gate = gate_for(Misdeclared)
    assert gate.unknown == ("later",)
    scope = {"company_id": str(uuid4()), "brand_id": str(uuid4()), "other": "2025-03-14"}
    for extra in (
        {},
        {"later": "2025-03-14T11:00:00Z"},
        {"later": "2025-03-14T09:00:00Z"},
        {"day": "2025-03-14"},
        {"day": "2025-03-15"},
        {"label": "2025-02-30T10:00:00Z", "day": "2025-02-30"},
        {"label": "2025-03-14T10:00:00Z", "day": "2025-02-30"},
    ):
        judge_one(Misdeclared, json.dumps(scope | extra).encode(), con)
    assert gate(json.dumps(scope | {"day": "2025-03-15"}).encode()) is not None
    assert gate(json.dumps(scope | {"later": "2025-03-14T11:00:00Z"}).encode()) is None
    assert gate(json.dumps({k: v for k, v in scope.items() if k != "other"}).encode()) is None


def test_a_model_validator_sends_every_record_to_pydantic() -> None:
    gate = gate_for(WithModelValidator)
    assert not gate.fast
    scope = {"company_id": str(uuid4()), "brand_id": str(uuid4()), "name": "x"}
    assert gate(json.dumps(scope).encode()) is None


def test_expiry_date_is_checked_against_the_derived_publish_date(con: Any) -> None:
    model = InternalContentCreate
    payload = json.loads(model.model_validate(valid_payload(model)).model_dump_json())
    payload.pop("publish_date")
    for expiry, ok in (("2025-03-13", False), ("2025-03-14", True)):
        payload.update(publish_time="2025-03-14T09:00:00Z", expiry_date=expiry)
        value = json.dumps(payload).encode()
        assert (gate_for(model)(value) is not None) is ok
        judge_one(model, value, con)


def test_gate_output_is_complete_canonical_json() -> None:
    model = UserEventCreate
    minimal = {
        "company_id": str(uuid.uuid4()),
        "brand_id": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "event_type": "scroll",
        "event_timestamp": "2025-03-14T09:26:53Z",
    }
    accepted = gate_for(model)(json.dumps(minimal).encode())
    assert accepted is not None
    expected = json.loads(model.__pydantic_serializer__.to_json(model.model_validate(minimal)))
    got = json.loads(accepted)
    assert list(got) == list(model.model_fields)
    assert {k: v for k, v in got.items() if k != "event_timestamp"} == {
        k: v for k, v in expected.items() if k != "event_timestamp"
    }
    stamp = datetime.fromisoformat(got["event_timestamp"])
    assert stamp == datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
