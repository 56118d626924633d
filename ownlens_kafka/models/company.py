"""Company domain events: internal communications to employees."""

from datetime import date
from typing import Annotated, Literal
from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    CountryCodeList,
    HttpUrlStr,
    LongText,
    PublicationStatus,
    PublishDate,
    StrList,
    Tags,
    Text,
    Title,
    UtcDatetime,
    UuidList,
    date_of,
    not_before,
    utc_now,
)

InternalContentType = Literal[
    "announcement", "newsletter", "internal_article", "policy", "update", "event"
]
PriorityLevel = Literal["low", "normal", "high", "urgent"]


class InternalContentCreate(EventModel):
    """A piece of internal content published to employees."""

    content_id: UUID = Field(default_factory=uuid4)
    title: Title
    content_type: InternalContentType
    summary: Text | None = None
    content_body: LongText | None = None
    content_url: HttpUrlStr | None = None
    author_employee_id: UUID | None = None
    author_department_id: UUID | None = None
    department_id: UUID | None = None
    category_id: UUID | None = None
    tags: Tags | None = None
    publish_time: UtcDatetime = Field(default_factory=utc_now)
    publish_date: PublishDate = Field(default_factory=date_of("publish_time"))
    expiry_date: Annotated[date, not_before("publish_date")] | None = None
    status: PublicationStatus = "draft"
    target_departments: UuidList | None = None
    target_employee_levels: StrList | None = None
    target_countries: CountryCodeList | None = None
    is_company_wide: bool = False
    priority_level: PriorityLevel = "normal"
    is_important: bool = False
