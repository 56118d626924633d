"""Warehouse columns derived from the event models, and events turned into typed DataFrames."""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from operator import attrgetter
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

import pyarrow as pa
from pydantic_core import to_json

from ownlens_kafka.consumer import ConsumedEvent
from ownlens_kafka.envelope import (
    PRODUCED_AT,
    PRODUCER,
    SCHEMA_VERSION,
    Headers,
    parse_timestamp,
    parse_version,
)
from ownlens_kafka.models import EventModel


@dataclass(frozen=True, slots=True)
class Column:
    """One warehouse column: its DuckDB type and the Arrow type it travels as."""

    name: str
    sql_type: str
    arrow_type: pa.DataType
    kind: str  # how Python values are converted: plain, uuid, json
    description: str | None = None


_UTC_MICROS = pa.timestamp("us", tz="UTC")
METADATA_COLUMNS = (
    Column("_topic", "VARCHAR", pa.string(), "plain", "Kafka topic the event was read from."),
    Column(
        "_topic_id",
        "VARCHAR",
        pa.string(),
        "plain",
        "Id of the topic's incarnation (a topic deleted and created again gets a new one).",
    ),
    Column("_partition", "INTEGER", pa.int32(), "plain", "Kafka partition of the event."),
    Column("_offset", "BIGINT", pa.int64(), "plain", "Offset of the event in its partition."),
    Column("_key", "VARCHAR", pa.string(), "plain", "Kafka key of the event."),
    Column(
        "_produced_at",
        "TIMESTAMPTZ",
        _UTC_MICROS,
        "plain",
        "When the producer sent the event (its `produced_at` header; null if unreadable).",
    ),
    Column("_producer", "VARCHAR", pa.string(), "plain", "Producer that sent the event."),
    Column(
        "_schema_version",
        "INTEGER",
        pa.int32(),
        "plain",
        "Model version the producer validated against (`schema_version` header).",
    ),
)
INGESTED_AT = Column(
    "_ingested_at",
    "TIMESTAMPTZ",
    _UTC_MICROS,
    "plain",
    "When the row was written to the warehouse.",
)
_SCALARS: dict[type, tuple[str, pa.DataType, str]] = {
    bool: ("BOOLEAN", pa.bool_(), "plain"),
    int: ("BIGINT", pa.int64(), "plain"),
    float: ("DOUBLE", pa.float64(), "plain"),
    str: ("VARCHAR", pa.string(), "plain"),
    UUID: ("UUID", pa.uuid(), "uuid"),
    datetime: ("TIMESTAMPTZ", pa.timestamp("us", tz="UTC"), "plain"),
    date: ("DATE", pa.date32(), "plain"),
}
_JSON = ("JSON", pa.string(), "json")


def _column_for(annotation: Any) -> tuple[str, pa.DataType, str]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _column_for(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _column_for(members[0]) if len(members) == 1 else _JSON
    if origin is Literal:
        return _SCALARS[str]
    if origin is not None:  # dict[...], list[...]
        return _JSON
    return _SCALARS.get(annotation, _JSON)


@cache
def model_columns(model: type[EventModel]) -> tuple[Column, ...]:
    """The model's fields as warehouse columns, in declaration order."""
    return tuple(
        Column(name, *_column_for(field.annotation), field.description)
        for name, field in model.model_fields.items()
    )


def table_columns(model: type[EventModel]) -> tuple[Column, ...]:
    """Every column of the stream's raw table: the event's, where it came from, when written."""
    return (*model_columns(model), *METADATA_COLUMNS, INGESTED_AT)


def _convert(values: list[Any], column: Column) -> pa.Array:
    if column.kind == "uuid":  # Arrow's UUID extension type: DuckDB reads it as UUID, no parsing
        storage = pa.array([None if v is None else v.bytes for v in values], pa.binary(16))
        return pa.ExtensionArray.from_storage(pa.uuid(), storage)
    if column.kind == "json":
        values = [None if v is None else to_json(v).decode() for v in values]
    return pa.array(values, type=column.arrow_type)


HEADER_COLUMNS: dict[str, tuple[str, Callable[[str], Any]]] = {
    PRODUCED_AT: ("_produced_at", parse_timestamp),
    PRODUCER: ("_producer", str),
    SCHEMA_VERSION: ("_schema_version", parse_version),
}


class HeaderParser:
    """Header lists as the values of the header columns. Producers stamp a batch with one list,
    so each distinct list is parsed once."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[tuple[str, bytes | str | None], ...], tuple[Any, ...]] = {}

    def __call__(self, headers: Headers | None) -> tuple[Any, ...]:
        """(produced at, producer, schema version) of a record, each None when absent or bad."""
        if not headers:
            return _NO_HEADERS
        if len(headers) > _CACHED_HEADERS:  # hostile sizes are parsed, never kept
            return self._parse(headers)
        key = tuple(headers)
        try:
            return self._parsed[key]
        except KeyError:
            values = self._parse(headers)
            if sum(len(raw or b"") for _, raw in headers) <= _CACHED_BYTES:
                if len(self._parsed) > 10_000:  # every message stamped anew: memory bounded
                    self._parsed.clear()
                self._parsed[key] = values
            return values

    @staticmethod
    def _parse(headers: Headers) -> tuple[Any, ...]:
        found: dict[str, Any] = {}
        for name, raw in headers:
            if name in HEADER_COLUMNS and raw is not None:
                text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
                found[name] = HEADER_COLUMNS[name][1](text)
        return tuple(found.get(name) for name in HEADER_COLUMNS)


_NO_HEADERS: tuple[Any, ...] = (None,) * len(HEADER_COLUMNS)
_CACHED_HEADERS, _CACHED_BYTES = 8, 512  # a producer's usual stamp, not a hostile one


def _header_columns(items: Sequence[ConsumedEvent[Any]]) -> dict[str, list[Any]]:
    """Producer metadata per item."""
    parse = HeaderParser()
    values = [parse(item.headers) for item in items]
    columns = [column for column, _ in HEADER_COLUMNS.values()]
    return {column: [row[index] for row in values] for index, column in enumerate(columns)}


def events_table(
    model: type[EventModel], items: Sequence[ConsumedEvent[Any]], topic_id: str | None = None
) -> pa.Table:
    """Consumed events as an Arrow table: model fields plus `_topic`, `_offset`, ... columns."""
    fields = model_columns(model)
    events = [item.event for item in items]
    rows = list(map(attrgetter(*(c.name for c in fields)), events)) if events else []
    by_column = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    arrays = [
        _convert(list(values), column) for values, column in zip(by_column, fields, strict=True)
    ]
    meta = {
        "_topic": [i.topic for i in items],
        "_topic_id": [topic_id] * len(items),
        "_partition": [i.partition for i in items],
        "_offset": [i.offset for i in items],
        "_key": [i.key for i in items],
        **_header_columns(items),
    }
    arrays += [pa.array(meta[c.name], type=c.arrow_type) for c in METADATA_COLUMNS]
    names = [c.name for c in (*fields, *METADATA_COLUMNS)]
    return pa.Table.from_arrays(arrays, names=names)
