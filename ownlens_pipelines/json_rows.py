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
def typed_select(model: type[EventModel], source: str) -> str:
    """A SELECT over relation `source`, whose VARCHAR column `_value` holds one event's JSON per
    row: the model's columns (in `model_columns` order), then every other column of `source`."""
    structure = _structure(model).replace("'", "''")
    fields = ", ".join(f'__event."{c.name}"' for c in model_columns(model))
    return (
        f"SELECT {fields}, * EXCLUDE ({VALUE}, __event) FROM "
        f"(SELECT json_transform_strict({VALUE}, '{structure}') AS __event, * FROM {source})"
    )
