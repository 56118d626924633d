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
    SensitiveStr255,
    SensitiveStr500,
    SensitiveText,
    Str50,
    UtcDatetime,
    date_of,
    utc_now,
)

AuditAction = Literal["READ", "WRITE", "DELETE", "UPDATE", "EXPORT", "EXECUTE", "LOGIN", "LOGOUT"]


class AuditLogCreate(EventModel):
    """An audited action on a resource, with its request and outcome."""

    log_id: UUID = Field(default_factory=uuid4, description="Unique id of the audit record.")
    user_id: UUID | None = Field(None, description="User who acted, if any.")
    api_key_id: UUID | None = Field(None, description="API key used, if any.")
    session_id: UUID | None = Field(None, description="Session the action belongs to.")
    action: AuditAction = Field(description="Kind of action performed.")
    resource_type: Name100 = Field(description="Type of the resource acted on.")
    resource_id: UUID | None = Field(None, description="Id of the resource acted on.")
    resource_identifier: SensitiveStr255 | None = Field(
        None, description="Other identifier of the resource (may identify a person)."
    )
    ip_address: IpAddressStr | None = Field(None, description="Client IP address (personal).")
    user_agent: SensitiveText | None = Field(None, description="Client user agent (personal).")
    endpoint: SensitiveStr500 | None = Field(None, description="Request path called.")
    method: HttpMethod | None = Field(None, description="HTTP method of the request.")
    event_timestamp: UtcDatetime = Field(
        default_factory=utc_now, description="When the action happened (UTC)."
    )
    event_date: EventDate = Field(
        default_factory=date_of("event_timestamp"), description="UTC date of event_timestamp."
    )
    success: bool = Field(description="Whether the action succeeded.")
    status_code: HttpStatusCode | None = Field(None, description="HTTP status code returned.")
    error_message: SensitiveText | None = Field(None, description="Error message on failure.")
    error_code: Str50 | None = Field(None, description="Error code on failure.")
    request_data: FreeDict | None = Field(None, description="Free-form request details.")
    response_data: FreeDict | None = Field(None, description="Free-form response details.")
    request_size_bytes: NonNegativeInt | None = Field(None, description="Request size in bytes.")
    response_size_bytes: NonNegativeInt | None = Field(None, description="Response size in bytes.")
    response_time_ms: NonNegativeInt | None = Field(
        None, description="Response time in milliseconds."
    )
