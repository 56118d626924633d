"""Canonical event JSON typed into warehouse columns by DuckDB, so Python builds no columns.

The input is complete canonical JSON (every model field present, as pydantic serializes a
validated event or the fast gate re-encodes one); DuckDB parses each value once
(`json_transform_strict`) into the column types of `schema.model_columns`.
"""

from __future__ import annotations

import json
from functools import cache

from ownlens_kafka.models import EventModel
from ownlens_pipelines.schema import model_columns

VALUE = "_value"
SESSION_SETTINGS = "SET TimeZone = 'UTC'"  # naive timestamps are UTC, as the models read them


@cache
def _structure(model: type[EventModel]) -> str:
    return json.dumps({c.name: c.sql_type for c in model_columns(model)})


@cache
def typed_select(model: type[EventModel], source: str, *, typable_only: bool = False) -> str:
    """A SELECT over relation `source`, whose VARCHAR column `_value` holds one event's JSON per
    row: the model's columns (in `model_columns` order), then every other column of `source`;
    with `typable_only`, without the rows DuckDB cannot type."""
    structure = _structure(model).replace("'", "''")
    fields = ", ".join(f'__event."{c.name}"' for c in model_columns(model))
    where = f" WHERE {typable(model)}" if typable_only else ""
    return (
        f"SELECT {fields}, * EXCLUDE ({VALUE}, __event) FROM "
        f"(SELECT json_transform_strict({VALUE}, '{structure}') AS __event, * FROM {source}{where})"
    )


@cache
def typable(model: type[EventModel]) -> str:
    """A condition true for the rows whose `_value` DuckDB can type as the model's columns."""
    structure = _structure(model).replace("'", "''")
    return f"try(json_transform_strict({VALUE}, '{structure}')) IS NOT NULL"
