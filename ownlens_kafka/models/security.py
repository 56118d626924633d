"""Security domain events: authentication and access incidents."""

from typing import Literal
from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    EventDate,
    FreeDict,
    IpAddressStr,
    Text,
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

    event_id: UUID = Field(default_factory=uuid4)
    user_id: UUID | None = None
    ip_address: IpAddressStr | None = None
    user_agent: Text | None = None
    event_type: SecurityEventType
    event_severity: EventSeverity
    description: Text | None = None
    success: bool
    failure_reason: Text | None = None
    event_timestamp: UtcDatetime = Field(default_factory=utc_now)
    event_date: EventDate = Field(default_factory=date_of("event_timestamp"))
    session_id: UUID | None = None
    event_data: FreeDict | None = None
