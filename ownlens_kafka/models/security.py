"""Security domain events: authentication and access incidents."""

from typing import Literal
from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    EventDate,
    FreeDict,
    IpAddressStr,
    SensitiveText,
    UtcDatetime,
    date_of,
    utc_now,
)

SecurityEventType = Literal[
    "LOGIN_SUCCESS",
    "LOGIN_FAILED",
    "LOGOUT",
    "PASSWORD_CHANGE",
    "ROLE_CHANGE",
    "PERMISSION_DENIED",
    "SUSPICIOUS_ACTIVITY",
]
EventSeverity = Literal["INFO", "WARNING", "ERROR", "CRITICAL"]


class SecurityEventCreate(EventModel):
    """An authentication, authorization or suspicious-activity event."""

    event_id: UUID = Field(default_factory=uuid4, description="Unique id of the event.")
    user_id: UUID | None = Field(None, description="User concerned, if known.")
    ip_address: IpAddressStr | None = Field(None, description="Client IP address (personal).")
    user_agent: SensitiveText | None = Field(None, description="Client user agent (personal).")
    event_type: SecurityEventType = Field(description="Kind of security event.")
    event_severity: EventSeverity = Field(description="Severity.")
    description: SensitiveText | None = Field(None, description="What happened, in words.")
    success: bool = Field(description="Whether the attempt succeeded.")
    failure_reason: SensitiveText | None = Field(None, description="Why it failed.")
    event_timestamp: UtcDatetime = Field(
        default_factory=utc_now, description="When it happened (UTC)."
    )
    event_date: EventDate = Field(
        default_factory=date_of("event_timestamp"), description="UTC date of event_timestamp."
    )
    session_id: UUID | None = Field(None, description="Session concerned.")
    event_data: FreeDict | None = Field(None, description="Free-form details.")
