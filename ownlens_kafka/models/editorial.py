"""Editorial domain events: engagement with articles, and the articles themselves."""

from typing import Literal
from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    CountryCode,
    CountryCodeList,
    EventDate,
    FreeDict,
    HttpUrlStr,
    NonNegativeInt,
    PublicationStatus,
    PublishDate,
    Str50,
    Str255,
    Str500,
    StrList,
    Tags,
    Text,
    Title,
    UtcDatetime,
    UuidList,
    date_of,
    utc_now,
)

ContentEventType = Literal["article_view", "article_click", "share", "comment", "like", "bookmark"]


class ContentEventCreate(EventModel):
    """An engagement event on a published article."""

    event_id: UUID = Field(default_factory=uuid4)
    article_id: UUID
    user_id: UUID | None = None
    event_type: ContentEventType
    event_timestamp: UtcDatetime = Field(default_factory=utc_now)
    event_date: EventDate = Field(default_factory=date_of("event_timestamp"))
    category_id: UUID | None = None
    author_id: UUID | None = None
    country_code: CountryCode | None = None
    city_id: UUID | None = None
    device_type_id: UUID | None = None
    os_id: UUID | None = None
    browser_id: UUID | None = None
    referrer: Str255 | None = None
    referrer_type: Str50 | None = None
    engagement_metrics: FreeDict | None = None


class ArticleCreate(EventModel):
    """An article created or updated in the editorial system."""

    article_id: UUID = Field(default_factory=uuid4)
    external_article_id: Str255 | None = None
    title: Title
    headline: Str500 | None = None
    subtitle: Text | None = None
    summary: Text | None = None
    content_url: HttpUrlStr
    article_type: Text | None = None
    primary_author_id: UUID | None = None
    co_author_ids: UuidList | None = None
    primary_category_id: UUID | None = None
    secondary_category_ids: UuidList | None = None
    tags: Tags | None = None
    word_count: NonNegativeInt | None = None
    reading_time_minutes: NonNegativeInt | None = None
    image_count: NonNegativeInt = 0
    video_count: NonNegativeInt = 0
    publish_time: UtcDatetime = Field(default_factory=utc_now)
    publish_date: PublishDate = Field(default_factory=date_of("publish_time"))
    last_updated_time: UtcDatetime | None = None
    status: PublicationStatus = "draft"
    meta_description: Text | None = None
    meta_keywords: StrList | None = None
    canonical_url: HttpUrlStr | None = None
    relevant_countries: CountryCodeList | None = None
    relevant_cities: UuidList | None = None
