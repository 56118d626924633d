"""The base class shared by every OwnLens event model."""

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ownlens_kafka.models._types import TEXT_MAX_LENGTH, FreeDict
from ownlens_kafka.sensitive import mark_sensitive_properties


def _json_schema_extra(schema: dict[str, Any], model: type[BaseModel]) -> None:
    mark_sensitive_properties(schema, model)


class EventModel(BaseModel):
    """An immutable, validated event scoped to one company and brand."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        str_max_length=TEXT_MAX_LENGTH,
        json_schema_extra=_json_schema_extra,
    )

    schema_version: ClassVar[int] = 1

    company_id: UUID = Field(description="Company that owns the event.")
    brand_id: UUID = Field(description="Brand of the company the event belongs to.")
    metadata: FreeDict = Field(
        default_factory=dict, description="Free-form context from the emitting system."
    )


def event_model_named(name: str) -> type[EventModel] | None:
    """The EventModel subclass called `name` (a ValidationError's title), or None."""
    pending: list[type[EventModel]] = [EventModel]
    while pending:
        model = pending.pop()
        if model.__name__ == name:
            return model
        pending.extend(model.__subclasses__())
    return None
