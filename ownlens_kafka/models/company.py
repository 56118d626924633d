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

    content_id: UUID = Field(default_factory=uuid4, description="Unique id of the content.")
    title: Title = Field(description="Title of the content.")
    content_type: InternalContentType = Field(description="Kind of internal content.")
    summary: Text | None = Field(None, description="Short summary.")
    content_body: LongText | None = Field(None, description="Full text of the content.")
    content_url: HttpUrlStr | None = Field(None, description="Where the content is published.")
    author_employee_id: UUID | None = Field(None, description="Employee who wrote it.")
    author_department_id: UUID | None = Field(None, description="Department of the author.")
    department_id: UUID | None = Field(None, description="Department that owns the content.")
    category_id: UUID | None = Field(None, description="Category of the content.")
    tags: Tags | None = Field(None, description="Tags (at most 100, each ≤100 characters).")
    publish_time: UtcDatetime = Field(
        default_factory=utc_now, description="When the content was published (UTC)."
    )
    publish_date: PublishDate = Field(
        default_factory=date_of("publish_time"), description="UTC date of publish_time."
    )
    expiry_date: Annotated[date, not_before("publish_date")] | None = Field(
        None, description="Last day the content is current (not before publish_date)."
    )
    status: PublicationStatus = Field("draft", description="Publication status.")
    target_departments: UuidList | None = Field(None, description="Departments addressed.")
    target_employee_levels: StrList | None = Field(None, description="Employee levels addressed.")
    target_countries: CountryCodeList | None = Field(
        None, description="Countries addressed (ISO-3166 alpha-2)."
    )
    is_company_wide: bool = Field(False, description="Whether every employee is addressed.")
    priority_level: PriorityLevel = Field("normal", description="Priority of the content.")
    is_important: bool = Field(False, description="Whether the content is flagged important.")
