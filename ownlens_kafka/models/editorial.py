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
    SensitiveStr255,
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

    event_id: UUID = Field(default_factory=uuid4, description="Unique id of the event.")
    article_id: UUID = Field(description="Article engaged with.")
    user_id: UUID | None = Field(None, description="Reader, if known.")
    event_type: ContentEventType = Field(description="Kind of engagement.")
    event_timestamp: UtcDatetime = Field(
        default_factory=utc_now, description="When the engagement happened (UTC)."
    )
    event_date: EventDate = Field(
        default_factory=date_of("event_timestamp"), description="UTC date of event_timestamp."
    )
    category_id: UUID | None = Field(None, description="Category of the article.")
    author_id: UUID | None = Field(None, description="Author of the article.")
    country_code: CountryCode | None = Field(None, description="Reader's country (ISO alpha-2).")
    city_id: UUID | None = Field(None, description="Reader's city.")
    device_type_id: UUID | None = Field(None, description="Device type.")
    os_id: UUID | None = Field(None, description="Operating system.")
    browser_id: UUID | None = Field(None, description="Browser.")
    referrer: SensitiveStr255 | None = Field(None, description="Referring page (personal).")
    referrer_type: Str50 | None = Field(None, description="Kind of referrer (social, search...).")
    engagement_metrics: FreeDict | None = Field(None, description="Free-form engagement measures.")


class ArticleCreate(EventModel):
    """An article created or updated in the editorial system."""

    article_id: UUID = Field(default_factory=uuid4, description="Unique id of the article.")
    external_article_id: Str255 | None = Field(None, description="Id in the source CMS.")
    title: Title = Field(description="Title of the article.")
    headline: Str500 | None = Field(None, description="Headline.")
    subtitle: Text | None = Field(None, description="Subtitle.")
    summary: Text | None = Field(None, description="Summary.")
    content_url: HttpUrlStr = Field(description="URL of the article.")
    article_type: Text | None = Field(None, description="Type of the article.")
    primary_author_id: UUID | None = Field(None, description="Main author.")
    co_author_ids: UuidList | None = Field(None, description="Co-authors.")
    primary_category_id: UUID | None = Field(None, description="Main category.")
    secondary_category_ids: UuidList | None = Field(None, description="Other categories.")
    tags: Tags | None = Field(None, description="Tags (at most 100, each ≤100 characters).")
    word_count: NonNegativeInt | None = Field(None, description="Number of words.")
    reading_time_minutes: NonNegativeInt | None = Field(
        None, description="Estimated reading time in minutes."
    )
    image_count: NonNegativeInt = Field(0, description="Number of images.")
    video_count: NonNegativeInt = Field(0, description="Number of videos.")
    publish_time: UtcDatetime = Field(
        default_factory=utc_now, description="When the article was published (UTC)."
    )
    publish_date: PublishDate = Field(
        default_factory=date_of("publish_time"), description="UTC date of publish_time."
    )
    last_updated_time: UtcDatetime | None = Field(None, description="Last update (UTC).")
    status: PublicationStatus = Field("draft", description="Publication status.")
    meta_description: Text | None = Field(None, description="SEO description.")
    meta_keywords: StrList | None = Field(None, description="SEO keywords.")
    canonical_url: HttpUrlStr | None = Field(None, description="Canonical URL.")
    relevant_countries: CountryCodeList | None = Field(
        None, description="Countries the article is relevant to (ISO alpha-2)."
    )
    relevant_cities: UuidList | None = Field(None, description="Cities the article is about.")
