"""Customer domain events: reader interactions and browsing sessions."""

from typing import Annotated, Literal
from uuid import UUID, uuid4

from pydantic import Field

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import (
    CountryCode,
    EventDate,
    FreeDict,
    FreeDictList,
    HttpUrlStr,
    NonNegativeFloat,
    NonNegativeInt,
    Percent,
    Str255,
    Str500,
    StrList,
    Text,
    Timezone,
    TitleList,
    UtcDatetime,
    date_of,
    not_before,
    utc_now,
)

UserEventType = Literal[
    "article_view",
    "article_click",
    "video_play",
    "newsletter_signup",
    "subscription_prompt",
    "ad_click",
    "search",
    "navigation",
    "session_end",
    "comment",
    "share",
    "page_view",
    "scroll",
]


class UserEventCreate(EventModel):
    """A reader's interaction with a page, article, video or ad."""

    event_id: UUID = Field(default_factory=uuid4)
    user_id: UUID
    session_id: UUID
    event_type: UserEventType
    event_timestamp: UtcDatetime = Field(default_factory=utc_now)
    event_date: EventDate = Field(default_factory=date_of("event_timestamp"))
    article_id: Text | None = None
    article_title: Str500 | None = None
    article_type: Text | None = None
    category_id: UUID | None = None
    page_url: HttpUrlStr | None = None
    country_code: CountryCode | None = None
    city_id: UUID | None = None
    timezone: Timezone | None = None
    device_type_id: UUID | None = None
    os_id: UUID | None = None
    browser_id: UUID | None = None
    engagement_metrics: FreeDict = Field(default_factory=dict)


class SessionCreate(EventModel):
    """A reader's browsing session with its activity counters."""

    session_id: UUID = Field(default_factory=uuid4)
    user_id: UUID
    account_id: UUID | None = None
    country_code: CountryCode | None = None
    city_id: UUID | None = None
    timezone: Timezone | None = None
    device_type_id: UUID | None = None
    os_id: UUID | None = None
    browser_id: UUID | None = None
    referrer: Str255 | None = None
    user_segment: Text | None = None
    subscription_tier: Text | None = None
    session_start: UtcDatetime = Field(default_factory=utc_now)
    session_end: Annotated[UtcDatetime, not_before("session_start")] | None = None
    session_duration_sec: NonNegativeInt | None = None
    total_events: NonNegativeInt = 0
    article_views: NonNegativeInt = 0
    article_clicks: NonNegativeInt = 0
    video_plays: NonNegativeInt = 0
    newsletter_signups: NonNegativeInt = 0
    ad_clicks: NonNegativeInt = 0
    searches: NonNegativeInt = 0
    pages_visited_count: NonNegativeInt = 0
    unique_pages_count: NonNegativeInt = 0
    unique_categories_count: NonNegativeInt = 0
    categories_visited: StrList = Field(default_factory=list)
    article_ids_visited: StrList = Field(default_factory=list)
    article_titles_visited: TitleList = Field(default_factory=list)
    page_events: FreeDictList = Field(default_factory=list)
    engagement_score: NonNegativeFloat | None = None
    scroll_depth_avg: Percent | None = None
    time_on_page_avg: NonNegativeInt | None = None
    batch_id: UUID | None = None
