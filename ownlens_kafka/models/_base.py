"""The base class shared by every OwnLens event model."""

from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ownlens_kafka.models._types import TEXT_MAX_LENGTH, FreeDict


class EventModel(BaseModel):
    """An immutable, validated event scoped to one company and brand."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        str_max_length=TEXT_MAX_LENGTH,
    )

    schema_version: ClassVar[int] = 1

    company_id: UUID
    brand_id: UUID
    metadata: FreeDict = Field(default_factory=dict)
