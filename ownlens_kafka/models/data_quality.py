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

    metric_id: UUID = Field(default_factory=uuid4, description="Unique id of the measurement.")
    table_name: Name255 = Field(description="Table measured.")
    column_name: Str255 | None = Field(None, description="Column measured, if only one.")
    domain: Str50 | None = Field(None, description="Domain of the table.")
    metric_date: date = Field(description="Day the measurement is for.")
    total_records: NonNegativeInt = Field(0, description="Records measured.")
    null_count: NonNegativeInt = Field(0, description="Records with nulls.")
    invalid_count: NonNegativeInt = Field(0, description="Invalid records.")
    duplicate_count: NonNegativeInt = Field(0, description="Duplicate records.")
    out_of_range_count: NonNegativeInt = Field(0, description="Records out of range.")
    format_errors: NonNegativeInt = Field(0, description="Records with format errors.")
    stale_records: NonNegativeInt = Field(0, description="Stale records.")
    unique_count: NonNegativeInt = Field(0, description="Distinct records.")
    null_percentage: Ratio | None = Field(None, description="Share of nulls (0-1).")
    completeness_score: Ratio | None = Field(None, description="Completeness (0-1).")
    accuracy_score: Ratio | None = Field(None, description="Accuracy (0-1).")
    invalid_percentage: Ratio | None = Field(None, description="Share of invalid records (0-1).")
    consistency_score: Ratio | None = Field(None, description="Consistency (0-1).")
    duplicate_percentage: Ratio | None = Field(None, description="Share of duplicates (0-1).")
    validity_score: Ratio | None = Field(None, description="Validity (0-1).")
    timeliness_score: Ratio | None = Field(None, description="Timeliness (0-1).")
    uniqueness_score: Ratio | None = Field(None, description="Uniqueness (0-1).")
    overall_quality_score: Ratio | None = Field(None, description="Overall quality (0-1).")
    avg_data_age_hours: NonNegativeFloat | None = Field(
        None, description="Average age of the data in hours."
    )
    quality_grade: Str10 | None = Field(None, description="Quality grade (e.g. A-F).")
