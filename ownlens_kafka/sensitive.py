"""The one marker for fields whose values must never appear in errors, logs or headers."""

from __future__ import annotations

import types
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

if TYPE_CHECKING:
    from pydantic import BaseModel

SENSITIVE_KEY = "x-sensitive"


class Sensitive:
    """`Annotated[T, SENSITIVE]`: values of this type are personal or secret (shown as
    `x-sensitive: true` in the JSON Schema); errors name the field, never the value."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema[SENSITIVE_KEY] = True
        return schema

    def __repr__(self) -> str:
        return "SENSITIVE"


SENSITIVE = Sensitive()


def is_sensitive(annotation: Any) -> bool:
    """Whether the annotation (or any type inside it: optional, list, dict) carries SENSITIVE."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extras = get_args(annotation)
        return any(isinstance(extra, Sensitive) for extra in extras) or is_sensitive(base)
    if origin in (Union, types.UnionType) or origin is not None:
        return any(is_sensitive(arg) for arg in get_args(annotation))
    return False


@cache
def sensitive_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of the model's fields marked SENSITIVE."""
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if is_sensitive(field.annotation) or any(isinstance(m, Sensitive) for m in field.metadata)
    )


def mark_sensitive_properties(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """`json_schema_extra` hook: repeat the marker on each sensitive property itself, so a reader
    of the schema needs not look inside `anyOf` (optional fields)."""
    properties = schema.get("properties", {})
    for name in sensitive_fields(model):
        if name in properties:
            properties[name][SENSITIVE_KEY] = True
