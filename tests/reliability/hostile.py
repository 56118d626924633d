"""Hypothesis strategies of hostile Kafka records for every stream, mixed with valid ones.

Hostile at every level a producer controls: the value's bytes (random, invalid UTF-8, empty,
null), its JSON (truncated, the wrong type, duplicate keys), one field at a time (wrong type, out
of range, unknown enum, too long, extra key, missing, null), timestamps (years 1 and 9999 with
offsets, naive, impossible dates), text (NUL, lone surrogates, astral characters), numbers (huge
integers, 1e400, NaN), free-form dicts (10,000 levels deep, too wide, too large in bytes: NULs,
emoji, long integers), headers (`schema_version` "٣", `produced_at` not a timestamp, non-UTF-8
bytes, null values, huge and many headers), keys (binary, huge, null), and sizes up to the
client's message limit (so close to it that a dead-letter copy with its `dlq.*` headers does not
fit). Which records are valid is not decided here: the oracle asks pydantic.

Large values are built from drawn parameters, not drawn byte by byte, so one example stays
within Hypothesis's budget.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ownlens_kafka.models import EventModel
from ownlens_kafka.streams import STREAMS, StreamSpec
from tests.factories import valid_payload

Headers = tuple[tuple[str, bytes | None], ...]
T = TypeVar("T")
# key + value + headers of the records near librdkafka's default message.max.bytes (1,000,000):
# any dead-letter copy is over it (its `dlq.*` headers alone take ~300 bytes), yet librdkafka
# takes the record (~40 bytes of overhead)
NEAR_LIMIT = (999_000, 999_900)
MARK = "@@hostile-token@@"  # replaced in the encoded JSON by raw bytes

STANDARD_HEADERS: Headers = (
    ("produced_at", b"2025-03-14T09:26:53.589000+00:00"),
    ("producer", b"fuzz/raw-confluent-kafka"),
    ("schema_version", b"1"),
)


@dataclass(frozen=True, slots=True)
class Record:
    """One record as the raw producer writes it, and which hostile kind made it."""

    stream: str
    kind: str  # "valid", or "<level>.<what>" for a hostile record
    value: bytes | None
    key: bytes | None
    headers: Headers = STANDARD_HEADERS

    @property
    def hostile(self) -> bool:
        return self.kind != "valid"

    @property
    def size(self) -> int:
        headers = sum(len(name) + len(value or b"") for name, value in self.headers)
        return len(self.value or b"") + len(self.key or b"") + headers


@dataclass(frozen=True, slots=True)
class Field:
    """What the JSON Schema says about one field of a model."""

    name: str
    types: frozenset[str]
    format: str | None
    max_length: int | None
    max_items: int | None
    enum: tuple[str, ...]
    free_dict: bool
    required: bool


@cache
def fields_of(model: type[EventModel]) -> tuple[Field, ...]:
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    found = []
    for name, prop in schema["properties"].items():
        alternatives = prop.get("anyOf", [prop])

        def first(key: str, alternatives: list[dict[str, Any]] = alternatives) -> Any:
            return next((a[key] for a in alternatives if key in a), None)

        found.append(
            Field(
                name=name,
                types=frozenset(a["type"] for a in alternatives if "type" in a),
                format=first("format"),
                max_length=first("maxLength"),
                max_items=first("maxItems"),
                enum=tuple(first("enum") or ()),
                free_dict=any(
                    a.get("type") == "object" and a.get("additionalProperties") is True
                    for a in alternatives
                ),
                required=name in required,
            )
        )
    return tuple(found)


def encode(payload: Any, *, ascii_only: bool = False) -> bytes:
    return json.dumps(payload, ensure_ascii=ascii_only, separators=(",", ":")).encode()


def with_token(payload: dict[str, Any], field: str, token: bytes) -> bytes:
    """The payload's JSON with `field`'s value replaced by the raw bytes `token`."""
    text = encode({**payload, field: MARK})
    return text.replace(json.dumps(MARK).encode(), token, 1)


def key_of(spec: StreamSpec, payload: dict[str, Any]) -> bytes:
    return "_".join(str(payload.get(name)) for name in spec.key_fields).encode()


def fresh(spec: StreamSpec) -> dict[str, Any]:
    return valid_payload(spec.model)


# What a hostile kind builds: (kind, value, key or None for the payload's, headers or None).
Built = tuple[str, bytes | None, bytes | None, Headers | None]


def record(spec: StreamSpec, payload: dict[str, Any], built: Built) -> Record:
    kind, value, key, headers = built
    return Record(
        spec.name,
        kind,
        value,
        key_of(spec, payload) if key is None else key,
        STANDARD_HEADERS if headers is None else headers,
    )


# Bytes and JSON --------------------------------------------------------------------------------

_INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80")
_WRONG_JSON = (
    b"[]",
    b"{}",
    b"null",
    b"true",
    b"42",
    b'"an event"',
    b"1e400",
    b"NaN",
    b"\xef\xbb\xbf{}",
    b"{,}",
    b"{'a': 1}",
)


def bytes_level(spec: StreamSpec) -> st.SearchStrategy[Record]:
    @st.composite
    def build(draw: st.DrawFn) -> Record:
        payload = fresh(spec)
        text = encode(payload)
        what = draw(
            st.sampled_from(
                [
                    "random",
                    "invalid_utf8",
                    "empty",
                    "null",
                    "truncated",
                    "wrong_json",
                    "wrapped",
                    "bom",
                    "trailing",
                ]
            )
        )
        value: bytes | None
        if what == "random":
            value = draw(st.binary(min_size=1, max_size=96))
        elif what == "invalid_utf8":
            strings = [f.name for f in fields_of(spec.model) if f.types == {"string"}]
            field = draw(st.sampled_from(sorted(strings)))
            bad = draw(st.sampled_from(_INVALID_UTF8))
            value = with_token(payload, field, b'"ok' + bad + b'"')
        elif what == "empty":
            value = b""
        elif what == "null":
            value = None
        elif what == "truncated":
            cut = draw(st.integers(min_value=1, max_value=len(text) - 1))
            value = text[:cut]
        elif what == "wrong_json":
            value = draw(st.sampled_from(_WRONG_JSON))
        elif what == "wrapped":
            value = b"[" + text + b"]"
        elif what == "bom":
            value = b"\xef\xbb\xbf" + text
        else:
            value = text + draw(st.sampled_from([b"\x00", b" garbage", b"}", b"\n\t ", b",{}"]))
        return record(spec, payload, (f"bytes.{what}", value, None, None))

    return build()


# One field at a time ---------------------------------------------------------------------------

_WRONG_TYPES: tuple[Any, ...] = ([], {}, True, 12345, 3.25, "text", ["a", 1], {"k": 1}, "1", 0)
_OUT_OF_RANGE: tuple[Any, ...] = (-1, -(2**63) - 1, 2**63, 2**64 + 1, 10**40, -1e308, 1e308, 1.5)
_FILL = ("x", "é", "😀", "\x00", "\u202e")


def _too_long(field: Field, fill: str) -> Any:
    if "array" in field.types:
        return ["x"] * ((field.max_items or 1_000) + 1)
    length = (field.max_length or 10_000) + 1
    if length > 20_000:
        fill = "x"  # LongText: 100,001 characters, kept to bytes
    return fill * length


def field_level(spec: StreamSpec) -> st.SearchStrategy[Record]:
    fields = fields_of(spec.model)

    @st.composite
    def build(draw: st.DrawFn) -> Record:
        payload = fresh(spec)
        field = draw(st.sampled_from(fields))
        what = draw(
            st.sampled_from(
                [
                    "wrong_type",
                    "out_of_range",
                    "unknown_enum",
                    "too_long",
                    "extra_key",
                    "duplicate_key",
                    "missing",
                    "null",
                ]
            )
        )
        value: bytes
        if what == "wrong_type":
            value = encode({**payload, field.name: draw(st.sampled_from(_WRONG_TYPES))})
        elif what == "out_of_range":
            value = encode({**payload, field.name: draw(st.sampled_from(_OUT_OF_RANGE))})
        elif what == "unknown_enum":
            base = field.enum[0] if field.enum else "value"
            choice = draw(
                st.sampled_from(
                    [base.swapcase(), f"{base} ", "", "TELEPORT", f"\x00{base}", f"{base}\u200b"]
                )
            )
            value = encode({**payload, field.name: choice})
        elif what == "too_long":
            fill = draw(st.sampled_from(_FILL))
            value = encode({**payload, field.name: _too_long(field, fill)})
        elif what == "extra_key":
            name = draw(
                st.sampled_from(["extra", "__proto__", "", "x" * 200, field.name.upper(), "_id"])
            )
            value = encode({**payload, name: 1} if name not in payload else {**payload, "x_": 1})
        elif what == "duplicate_key":
            bad = encode(draw(st.sampled_from(_WRONG_TYPES)))
            good = encode(payload.get(field.name))
            first, last = (good, bad) if draw(st.booleans()) else (bad, good)
            head = encode({**payload, field.name: MARK})
            token = first + b"," + encode(field.name) + b":" + last
            value = head.replace(json.dumps(MARK).encode(), token, 1)
        elif what == "missing":
            value = encode({k: v for k, v in payload.items() if k != field.name})
        else:
            value = encode({**payload, field.name: None})
        return record(spec, payload, (f"field.{what}", value, None, None))

    return build()


# Timestamps, text, numbers -----------------------------------------------------------------------

_TIMESTAMPS = (
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:30:00+00:31",
    "9999-12-31T23:59:59-00:01",
    "9999-12-31T23:00:00-23:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "2025-03-14T09:26:53",
    "2025-03-14 09:26:53Z",
    "2025-02-29T00:00:00Z",
    "2024-02-29T24:00:00Z",
    "2025-03-14T09:26:53.1234567891Z",
    "2025-03-14T09:26:53+24:00",
    "+2025-03-14T09:26:53Z",
    "2025-03-14T09:26:53Z\x00",
    "٢٠٢٥-03-14T09:26:53Z",
    "",
    "now",
)


def _timestamp_text(draw: st.DrawFn) -> Any:
    how = draw(st.sampled_from(["edge", "drawn", "naive", "epoch"]))
    if how == "edge":
        return draw(st.sampled_from(_TIMESTAMPS))
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    if how == "naive":
        return moment.isoformat()
    if how == "epoch":
        return draw(st.one_of(st.integers(-(10**13), 10**13), st.sampled_from([10**20, -1e20])))
    minutes = draw(st.integers(-(24 * 60 - 1), 24 * 60 - 1))
    return moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat()


_SPECIAL_CHARS = ("\x00", "\ud800", "\udfff", "\U0001f600", "\U0010ffff", "\ufeff", "\u202e", "é")
_NUMBER_TOKENS = (
    b"1e400",
    b"-1e400",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1" + b"0" * 19,
    b"1" + b"0" * 20,
    b"1" + b"0" * 309,
    b"1" + b"0" * 4300,
    b"1" + b"0" * 5000,
    b"-0",
    b"1e-400",
    b"1E+2",
    b"01",
    b"1.",
    b".5",
    b"0x10",
)


def value_level(spec: StreamSpec) -> st.SearchStrategy[Record]:
    fields = fields_of(spec.model)
    timestamps = [f for f in fields if f.format == "date-time"]
    texts = [f for f in fields if "string" in f.types and f.format is None]
    numbers = [f for f in fields if f.types & {"integer", "number"}]

    @st.composite
    def build(draw: st.DrawFn) -> Record:
        payload = fresh(spec)
        what = draw(st.sampled_from(["timestamp", "text", "number"]))
        if what == "timestamp" and timestamps:
            field = draw(st.sampled_from(timestamps))
            value = encode({**payload, field.name: _timestamp_text(draw)}, ascii_only=True)
            return record(spec, payload, ("value.timestamp", value, None, None))
        if what == "text" or (what == "timestamp" and not timestamps):
            field = draw(st.sampled_from(texts))
            text = draw(
                st.text(
                    alphabet=st.one_of(st.characters(), st.sampled_from(_SPECIAL_CHARS)),
                    max_size=24,
                )
            )
            ascii_only = draw(st.booleans()) or any("\ud800" <= c <= "\udfff" for c in text)
            value = encode({**payload, field.name: text}, ascii_only=ascii_only)
            return record(spec, payload, ("value.text", value, None, None))
        token = draw(st.sampled_from(_NUMBER_TOKENS))
        in_field = draw(st.booleans())
        if numbers and in_field:
            target = draw(st.sampled_from(numbers)).name
            value = with_token(payload, target, token)
        else:  # inside the free-form metadata
            value = with_token(payload, "metadata", b'{"n":' + token + b"}")
        return record(spec, payload, ("value.number", value, None, None))

    return build()


# Free-form dicts -------------------------------------------------------------------------------


def _nested(depth: int, opener: str) -> bytes:
    closer = "}" if opener == "{" else "]"
    inner = '{"a":' if opener == "{" else "["
    return ('{"d":' + inner * depth + "1" * (opener == "{") + closer * depth + "}").encode()


def free_dict_level(spec: StreamSpec) -> st.SearchStrategy[Record]:
    targets = [f for f in fields_of(spec.model) if f.free_dict and "array" not in f.types]

    @st.composite
    def build(draw: st.DrawFn) -> Record:
        payload = fresh(spec)
        field = draw(st.sampled_from(targets)).name
        what = draw(st.sampled_from(["deep", "wide", "long_key", "deep", "long_key", "size"]))
        if what == "size":  # large (64 KiB): one draw in six
            what = draw(st.sampled_from(["nul", "emoji", "integers"]))
        if what == "deep":
            depth = draw(st.sampled_from([3, 4, 5, 6, 100, 1_000, 10_000]))
            token = _nested(depth, draw(st.sampled_from("{[")))
        elif what == "wide":
            count = draw(st.sampled_from([100, 101, 1_000]))
            token = encode({f"k{i}": i for i in range(count)})
        elif what == "long_key":
            token = encode({"k" * draw(st.sampled_from([100, 101, 1_000])): 1})
        elif what == "nul":  # 6 bytes of JSON per character: the bound is in bytes
            count = draw(st.integers(10_000, 12_000))
            token = b'{"s":"' + b"\\u0000" * count + b'"}'
        elif what == "emoji":  # 4 bytes of UTF-8 per character
            count = draw(st.integers(15_000, 17_500))
            token = ('{"s":"' + "😀" * count + '"}').encode()
        else:  # long integers: 400 digits each
            count = draw(st.integers(140, 180))
            token = b'{"l":[' + b",".join([b"9" * 400] * count) + b"]}"
        value = with_token(payload, field, token)
        return record(spec, payload, (f"dict.{what}", value, None, None))

    return build()


# Headers and keys ------------------------------------------------------------------------------

_SCHEMA_VERSIONS = (
    "٣",
    "²",
    "¹²",
    "\uff11",  # fullwidth digit one
    "-1",
    "99999999999",
    "2147483648",
    "3.0",
    " 1",
    "",
    "1\x00",
)
_PRODUCED_AT = (
    "not a timestamp",
    "",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+23:59",
    "2025-13-45T99:99:99Z",
    "1e400",
    "\u0662\u0660\u0662\u0665-\u0660\u0663-\u0661\u0664T00:00:00Z",  # Arabic-Indic digits
    "2025-03-14T09:26:53",
)


def header_level(spec: StreamSpec) -> st.SearchStrategy[Record]:
    @st.composite
    def build(draw: st.DrawFn) -> Record:
        payload = fresh(spec)
        what = draw(
            st.sampled_from(
                [
                    "schema_version",
                    "produced_at",
                    "not_utf8",
                    "null",
                    "schema_version",
                    "produced_at",
                    "huge",
                    "many",
                    "duplicate",
                ]
            )
        )
        base = dict(STANDARD_HEADERS)
        headers: list[tuple[str, bytes | None]]
        if what == "schema_version":
            base["schema_version"] = draw(st.sampled_from(_SCHEMA_VERSIONS)).encode()
            headers = list(base.items())
        elif what == "produced_at":
            base["produced_at"] = draw(st.sampled_from(_PRODUCED_AT)).encode()
            headers = list(base.items())
        elif what == "not_utf8":
            name = draw(st.sampled_from(sorted(base)))
            base[name] = draw(st.sampled_from(_INVALID_UTF8))
            headers = list(base.items())
        elif what == "null":
            name = draw(st.sampled_from(sorted(base)))
            headers = [(k, None if k == name else v) for k, v in base.items()]
        elif what == "huge":
            size = draw(st.integers(100_000, 600_000))
            headers = [*base.items(), ("x-huge", b"h" * size)]
        elif what == "many":
            count = draw(st.integers(200, 2_000))
            headers = [*base.items(), *((f"x-{i}", b"v") for i in range(count))]
        else:
            headers = [*base.items(), ("produced_at", b"\xff"), ("schema_version", "٣".encode())]
        invalid = draw(st.booleans())  # also on records that are dead-lettered
        value = b'{"broken' if invalid else encode(payload)
        return record(spec, payload, (f"header.{what}", value, None, tuple(headers)))

    return build()


def key_level(spec: StreamSpec) -> st.SearchStrategy[Record]:
    @st.composite
    def build(draw: st.DrawFn) -> Record:
        payload = fresh(spec)
        what = draw(st.sampled_from(["binary", "null", "empty", "binary", "null", "huge"]))
        key: bytes | None
        if what == "binary":
            key = draw(st.binary(min_size=1, max_size=64)) + b"\xff"
        elif what == "huge":
            key = b"k" * draw(st.integers(50_000, 300_000))
        elif what == "null":
            key = None
        else:
            key = b""
        invalid = draw(st.booleans())
        value = encode({**payload, "extra": 1}) if invalid else encode(payload)
        return Record(spec.name, f"key.{what}", value, key)

    return build()


def near_limit(spec: StreamSpec) -> st.SearchStrategy[Record]:
    """Invalid records within the client's limit whose dead-letter copy (the record plus its
    `dlq.*` headers) is not: it must be cut to fit, flagged, never block the partition."""

    @st.composite
    def build(draw: st.DrawFn) -> Record:
        payload = fresh(spec)
        total = draw(st.integers(*NEAR_LIMIT))
        what = draw(st.sampled_from(["pad", "garbage", "big_key", "big_headers"]))
        key = key_of(spec, payload)
        headers: Headers = STANDARD_HEADERS
        if what == "big_key":
            key = b"k" * 200_000
        elif what == "big_headers":
            headers = (*STANDARD_HEADERS, ("x-big", b"h" * 300_000))
        room = total - len(key) - sum(len(k) + len(v or b"") for k, v in headers)
        if what == "garbage":
            value = b"\xff" * room
        else:  # valid JSON, invalid event: an unknown field
            head = encode({**payload, "pad": ""})
            value = head[:-2] + b"x" * (room - len(head)) + b'"}'
        return Record(spec.name, f"size.{what}", value, key, headers)

    return build()


# Mixed streams ---------------------------------------------------------------------------------

HOSTILE_LEVELS: tuple[Callable[[StreamSpec], st.SearchStrategy[Record]], ...] = (
    bytes_level,
    field_level,
    value_level,
    free_dict_level,
    header_level,
    key_level,
)


def valid(spec: StreamSpec) -> st.SearchStrategy[Record]:
    return st.builds(lambda: _valid_record(spec))


def _valid_record(spec: StreamSpec) -> Record:
    payload = fresh(spec)
    return record(spec, payload, ("valid", encode(payload), None, None))


@cache
def _records_of(name: str) -> st.SearchStrategy[Record]:
    spec = next(s for s in STREAMS if s.name == name)
    # one_of picks a branch evenly: valid, or one of the six hostile levels
    return st.one_of(valid(spec), *(level(spec) for level in HOSTILE_LEVELS))


def mixed_records(specs: tuple[StreamSpec, ...] = STREAMS) -> st.SearchStrategy[Record]:
    """One record of any of the streams, hostile about six times in seven."""
    return st.sampled_from([s.name for s in specs]).flatmap(_records_of)


def batches(
    specs: tuple[StreamSpec, ...] = STREAMS, size: tuple[int, int] = (120, 160)
) -> st.SearchStrategy[tuple[list[Record], list[Record]]]:
    """One example: a list of mixed records, and at most one record near the size limit."""
    near = st.sampled_from([s.name for s in specs]).flatmap(
        lambda name: near_limit(next(s for s in specs if s.name == name))
    )
    return st.tuples(
        st.lists(mixed_records(specs), min_size=size[0], max_size=size[1]),
        st.lists(near, max_size=1),
    )


def generate(
    strategy: st.SearchStrategy[T], examples: int, collected: list[T] | None = None
) -> list[T]:
    """`examples` values of `strategy`, the same on every run (derandomized, no database)."""
    found: list[T] = [] if collected is None else collected

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def gather(example: T) -> None:
        found.append(example)

    gather()
    return found


def valid_records(spec: StreamSpec, count: int) -> list[Record]:
    """`count` valid records of the stream, each with a fresh id."""
    return [_valid_record(spec) for _ in range(count)]
