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
    Str100,
    Text,
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

    event_id: UUID = Field(default_factory=uuid4)
    compliance_type: ComplianceType
    event_type: ComplianceEventType
    description: Text | None = None
    user_id: UUID | None = None
    requested_by: UUID | None = None
    processed_by: UUID | None = None
    resource_type: Str100 | None = None
    resource_ids: UuidList | None = None
    data_scope: FreeDict | None = None
    status: ComplianceStatus
    status_message: Text | None = None
    requested_at: UtcDatetime | None = None
    processed_at: Annotated[UtcDatetime, not_before("requested_at")] | None = None
    completed_at: Annotated[UtcDatetime, not_before("requested_at", "processed_at")] | None = None
    event_timestamp: UtcDatetime = Field(default_factory=utc_now)
    event_date: EventDate = Field(default_factory=date_of("event_timestamp"))
    records_affected: NonNegativeInt | None = None
    data_export_url: HttpUrlStr | None = None
