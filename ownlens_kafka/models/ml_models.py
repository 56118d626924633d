"""ML domain events: model predictions and their observed outcomes."""

from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    FreeDict,
    Name100,
    PredictionDate,
    Ratio,
    Str100,
    UtcDatetime,
    date_of,
    utc_now,
)


class ModelPredictionCreate(EventModel):
    """One prediction made by an ML model, optionally with the observed outcome."""

    prediction_id: UUID = Field(default_factory=uuid4)
    model_id: UUID
    prediction_type: Name100
    entity_id: UUID | None = None
    entity_type: Str100 | None = None
    prediction_value: float | None = None
    prediction_probability: Ratio | None = None
    prediction_class: Str100 | None = None
    prediction_confidence: Ratio | None = None
    input_features: FreeDict | None = None
    actual_value: float | None = None
    actual_class: Str100 | None = None
    is_correct: bool | None = None
    predicted_at: UtcDatetime = Field(default_factory=utc_now)
    prediction_date: PredictionDate = Field(default_factory=date_of("predicted_at"))
    actual_observed_at: UtcDatetime | None = None
    batch_id: UUID | None = None
