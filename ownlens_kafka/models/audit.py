"""Audit domain events: one record per API or system action."""

from typing import Literal
from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    EventDate,
    FreeDict,
    HttpMethod,
    HttpStatusCode,
    IpAddressStr,
    Name100,
    NonNegativeInt,
    Str50,
    Str255,
    Str500,
    Text,
    UtcDatetime,
    date_of,
    utc_now,
)

AuditAction = Literal["READ", "WRITE", "DELETE", "UPDATE", "EXPORT", "EXECUTE", "LOGIN", "LOGOUT"]


class AuditLogCreate(EventModel):
    """An audited action on a resource, with its request and outcome."""

    log_id: UUID = Field(default_factory=uuid4)
    user_id: UUID | None = None
    api_key_id: UUID | None = None
    session_id: UUID | None = None
    action: AuditAction
    resource_type: Name100
    resource_id: UUID | None = None
    resource_identifier: Str255 | None = None
    ip_address: IpAddressStr | None = None
    user_agent: Text | None = None
    endpoint: Str500 | None = None
    method: HttpMethod | None = None
    event_timestamp: UtcDatetime = Field(default_factory=utc_now)
    event_date: EventDate = Field(default_factory=date_of("event_timestamp"))
    success: bool
    status_code: HttpStatusCode | None = None
    error_message: Text | None = None
    error_code: Str50 | None = None
    request_data: FreeDict | None = None
    response_data: FreeDict | None = None
    request_size_bytes: NonNegativeInt | None = None
    response_size_bytes: NonNegativeInt | None = None
    response_time_ms: NonNegativeInt | None = None
