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

    prediction_id: UUID = Field(default_factory=uuid4, description="Unique id of the prediction.")
    model_id: UUID = Field(description="Model that predicted.")
    prediction_type: Name100 = Field(description="Kind of prediction (churn, conversion...).")
    entity_id: UUID | None = Field(None, description="Entity predicted about.")
    entity_type: Str100 | None = Field(None, description="Type of the entity.")
    prediction_value: float | None = Field(None, description="Predicted value.")
    prediction_probability: Ratio | None = Field(None, description="Probability (0-1).")
    prediction_class: Str100 | None = Field(None, description="Predicted class.")
    prediction_confidence: Ratio | None = Field(None, description="Confidence (0-1).")
    input_features: FreeDict | None = Field(None, description="Free-form input features.")
    actual_value: float | None = Field(None, description="Observed value.")
    actual_class: Str100 | None = Field(None, description="Observed class.")
    is_correct: bool | None = Field(None, description="Whether the prediction was right.")
    predicted_at: UtcDatetime = Field(
        default_factory=utc_now, description="When the prediction was made (UTC)."
    )
    prediction_date: PredictionDate = Field(
        default_factory=date_of("predicted_at"), description="UTC date of predicted_at."
    )
    actual_observed_at: UtcDatetime | None = Field(
        None, description="When the outcome was observed (UTC)."
    )
    batch_id: UUID | None = Field(None, description="Batch that produced the prediction.")
