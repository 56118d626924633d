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
    SensitiveStr255,
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

    event_id: UUID = Field(default_factory=uuid4, description="Unique id of the event.")
    user_id: UUID = Field(description="Reader who interacted.")
    session_id: UUID = Field(description="Browsing session of the interaction.")
    event_type: UserEventType = Field(description="Kind of interaction.")
    event_timestamp: UtcDatetime = Field(
        default_factory=utc_now, description="When the interaction happened (UTC)."
    )
    event_date: EventDate = Field(
        default_factory=date_of("event_timestamp"), description="UTC date of event_timestamp."
    )
    article_id: Text | None = Field(None, description="Article concerned, if any.")
    article_title: Str500 | None = Field(None, description="Title of the article.")
    article_type: Text | None = Field(None, description="Type of the article.")
    category_id: UUID | None = Field(None, description="Category of the page or article.")
    page_url: HttpUrlStr | None = Field(None, description="URL of the page (personal).")
    country_code: CountryCode | None = Field(None, description="Reader's country (ISO alpha-2).")
    city_id: UUID | None = Field(None, description="Reader's city.")
    timezone: Timezone | None = Field(None, description="Reader's IANA timezone.")
    device_type_id: UUID | None = Field(None, description="Device type.")
    os_id: UUID | None = Field(None, description="Operating system.")
    browser_id: UUID | None = Field(None, description="Browser.")
    engagement_metrics: FreeDict = Field(
        default_factory=dict, description="Free-form engagement measures (scroll depth, time)."
    )


class SessionCreate(EventModel):
    """A reader's browsing session with its activity counters."""

    session_id: UUID = Field(default_factory=uuid4, description="Unique id of the session.")
    user_id: UUID = Field(description="Reader of the session.")
    account_id: UUID | None = Field(None, description="Account of the reader, if signed in.")
    country_code: CountryCode | None = Field(None, description="Reader's country (ISO alpha-2).")
    city_id: UUID | None = Field(None, description="Reader's city.")
    timezone: Timezone | None = Field(None, description="Reader's IANA timezone.")
    device_type_id: UUID | None = Field(None, description="Device type.")
    os_id: UUID | None = Field(None, description="Operating system.")
    browser_id: UUID | None = Field(None, description="Browser.")
    referrer: SensitiveStr255 | None = Field(None, description="Referring page (personal).")
    user_segment: Text | None = Field(None, description="Audience segment of the reader.")
    subscription_tier: Text | None = Field(None, description="Subscription tier of the reader.")
    session_start: UtcDatetime = Field(
        default_factory=utc_now, description="When the session started (UTC)."
    )
    session_end: Annotated[UtcDatetime, not_before("session_start")] | None = Field(
        None, description="When the session ended (UTC, not before session_start)."
    )
    session_duration_sec: NonNegativeInt | None = Field(None, description="Duration in seconds.")
    total_events: NonNegativeInt = Field(0, description="Events in the session.")
    article_views: NonNegativeInt = Field(0, description="Article views.")
    article_clicks: NonNegativeInt = Field(0, description="Article clicks.")
    video_plays: NonNegativeInt = Field(0, description="Video plays.")
    newsletter_signups: NonNegativeInt = Field(0, description="Newsletter sign-ups.")
    ad_clicks: NonNegativeInt = Field(0, description="Ad clicks.")
    searches: NonNegativeInt = Field(0, description="Searches.")
    pages_visited_count: NonNegativeInt = Field(0, description="Pages visited.")
    unique_pages_count: NonNegativeInt = Field(0, description="Distinct pages visited.")
    unique_categories_count: NonNegativeInt = Field(0, description="Distinct categories visited.")
    categories_visited: StrList = Field(default_factory=list, description="Categories visited.")
    article_ids_visited: StrList = Field(default_factory=list, description="Articles visited.")
    article_titles_visited: TitleList = Field(
        default_factory=list, description="Titles of the articles visited."
    )
    page_events: FreeDictList = Field(
        default_factory=list, description="Free-form page events of the session."
    )
    engagement_score: NonNegativeFloat | None = Field(None, description="Engagement score (≥0).")
    scroll_depth_avg: Percent | None = Field(None, description="Average scroll depth (0-100).")
    time_on_page_avg: NonNegativeInt | None = Field(
        None, description="Average time on page in seconds."
    )
    batch_id: UUID | None = Field(None, description="Batch that produced the record.")
