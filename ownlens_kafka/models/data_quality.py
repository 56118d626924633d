"""Data-quality domain events: daily quality metrics per table or column."""

from datetime import date
from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    Name255,
    NonNegativeFloat,
    NonNegativeInt,
    Ratio,
    Str10,
    Str50,
    Str255,
)


class QualityMetricCreate(EventModel):
    """Quality measurements of one table (or column) for one day."""

    metric_id: UUID = Field(default_factory=uuid4)
    table_name: Name255
    column_name: Str255 | None = None
    domain: Str50 | None = None
    metric_date: date
    total_records: NonNegativeInt = 0
    null_count: NonNegativeInt = 0
    invalid_count: NonNegativeInt = 0
    duplicate_count: NonNegativeInt = 0
    out_of_range_count: NonNegativeInt = 0
    format_errors: NonNegativeInt = 0
    stale_records: NonNegativeInt = 0
    unique_count: NonNegativeInt = 0
    null_percentage: Ratio | None = None
    completeness_score: Ratio | None = None
    accuracy_score: Ratio | None = None
    invalid_percentage: Ratio | None = None
    consistency_score: Ratio | None = None
    duplicate_percentage: Ratio | None = None
    validity_score: Ratio | None = None
    timeliness_score: Ratio | None = None
    uniqueness_score: Ratio | None = None
    overall_quality_score: Ratio | None = None
    avg_data_age_hours: NonNegativeFloat | None = None
    quality_grade: Str10 | None = None
