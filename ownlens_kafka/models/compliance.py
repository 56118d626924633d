"""Compliance domain events: data-subject requests, retention and consent."""

from typing import Annotated, Literal
from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    EventDate,
    FreeDict,
    HttpUrlStr,
    NonNegativeInt,
    SensitiveText,
    Str100,
    UtcDatetime,
    UuidList,
    date_of,
    not_before,
    utc_now,
)

ComplianceType = Literal[
    "GDPR_ACCESS_REQUEST",
    "GDPR_DELETION_REQUEST",
    "DATA_RETENTION",
    "DATA_EXPORT",
    "CONSENT_UPDATE",
]
ComplianceEventType = Literal["REQUEST", "PROCESSED", "COMPLETED", "FAILED"]
ComplianceStatus = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]


class ComplianceEventCreate(EventModel):
    """A step in the handling of a compliance request (GDPR, retention, consent)."""

    event_id: UUID = Field(default_factory=uuid4, description="Unique id of the event.")
    compliance_type: ComplianceType = Field(description="Kind of compliance request.")
    event_type: ComplianceEventType = Field(description="Step of the request this event records.")
    description: SensitiveText | None = Field(None, description="What happened, in words.")
    user_id: UUID | None = Field(None, description="Data subject of the request.")
    requested_by: UUID | None = Field(None, description="Who made the request.")
    processed_by: UUID | None = Field(None, description="Who processed the request.")
    resource_type: Str100 | None = Field(None, description="Type of the resources concerned.")
    resource_ids: UuidList | None = Field(None, description="Ids of the resources concerned.")
    data_scope: FreeDict | None = Field(None, description="Free-form scope of the data concerned.")
    status: ComplianceStatus = Field(description="Status of the request after this step.")
    status_message: SensitiveText | None = Field(None, description="Details of the status.")
    requested_at: UtcDatetime | None = Field(None, description="When it was requested (UTC).")
    processed_at: Annotated[UtcDatetime, not_before("requested_at")] | None = Field(
        None, description="When it was processed (UTC, not before requested_at)."
    )
    completed_at: Annotated[UtcDatetime, not_before("requested_at", "processed_at")] | None = Field(
        None, description="When it was completed (UTC, not before the earlier steps)."
    )
    event_timestamp: UtcDatetime = Field(
        default_factory=utc_now, description="When this event happened (UTC)."
    )
    event_date: EventDate = Field(
        default_factory=date_of("event_timestamp"), description="UTC date of event_timestamp."
    )
    records_affected: NonNegativeInt | None = Field(None, description="Number of records touched.")
    data_export_url: HttpUrlStr | None = Field(None, description="Where the export can be fetched.")
