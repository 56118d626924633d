"""A reader's session in progress, and the session record it adds up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from ownlens_kafka.generator.sim import Payload
from ownlens_kafka.generator.world import Article, Brand, Category, User

SESSION_COUNTERS = {
    "article_view": "article_views",
    "article_click": "article_clicks",
    "video_play": "video_plays",
    "newsletter_signup": "newsletter_signups",
    "ad_click": "ad_clicks",
    "search": "searches",
}
PAGE_LOADS = frozenset(
    {
        "article_view",
        "article_click",
        "page_view",
        "navigation",
        "search",
        "subscription_prompt",
        "newsletter_signup",
    }
)


class Page(NamedTuple):
    """Where a reader is: a section, a special page or an article."""

    path: str
    category: Category | None
    article: Article | None = None


@dataclass(eq=False, slots=True)
class OpenSession:
    """A reader's session in progress: what its user events so far add up to."""

    session_id: UUID
    user: User
    brand: Brand
    started_at: datetime
    planned: int
    referrer: str | None
    page: Page | None = None
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    loads: int = 0
    paths: set[str] = field(default_factory=set)
    categories: dict[str, None] = field(default_factory=dict)
    articles: dict[str, str] = field(default_factory=dict)
    page_events: list[Payload] = field(default_factory=list)
    scroll_depths: list[int] = field(default_factory=list)
    reading_times: list[int] = field(default_factory=list)
    scope: Payload = field(default_factory=dict)

    def __post_init__(self) -> None:
        user, place, device = self.user, self.user.place, self.user.device
        self.scope = {  # the fields every user event of the session shares
            "company_id": self.brand.company_id,
            "brand_id": self.brand.brand_id,
            "user_id": user.user_id,
            "session_id": self.session_id,
            "country_code": place.country_code,
            "city_id": place.city_id,
            "timezone": place.timezone,
            "device_type_id": device.device_type_id,
            "os_id": device.os_id,
            "browser_id": device.browser_id,
        }

    def add(self, kind: str, page: Page | None, metrics: Payload, at: datetime) -> None:
        self.total += 1
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if "scroll_depth" in metrics:
            self.scroll_depths.append(metrics["scroll_depth"])
        if "time_on_page" in metrics:
            self.reading_times.append(metrics["time_on_page"])
        if page is None or kind not in PAGE_LOADS:
            return
        self.page = page
        self.loads += 1
        self.paths.add(page.path)
        if page.category is not None:
            self.categories[page.category.slug] = None
        if page.article is not None:
            self.articles[page.article.key] = page.article.title
        self.page_events.append({"type": kind, "path": page.path, "at": at.isoformat()})

    def record(self, ended_at: datetime) -> Payload:
        """The session as emitted when it ends: counters equal to its user events."""
        user = self.user
        duration = int((ended_at - self.started_at).total_seconds())
        counters = {name: self.counts.get(kind, 0) for kind, name in SESSION_COUNTERS.items()}
        return {
            **self.scope,  # what the session's user events share
            "account_id": user.account_id,
            "referrer": self.referrer,
            "user_segment": user.segment,
            "subscription_tier": user.tier,
            "session_start": self.started_at,
            "session_end": ended_at,
            "session_duration_sec": duration,
            "total_events": self.total,
            **counters,
            "pages_visited_count": self.loads,
            "unique_pages_count": len(self.paths),
            "unique_categories_count": len(self.categories),
            "categories_visited": list(self.categories),
            "article_ids_visited": list(self.articles),
            "article_titles_visited": list(self.articles.values()),
            "page_events": self.page_events,
            "engagement_score": self._score(counters, duration),
            "scroll_depth_avg": _mean(self.scroll_depths),
            "time_on_page_avg": _mean(self.reading_times),
        }

    def _score(self, counters: dict[str, int], duration: int) -> float:
        score = (
            0.5 * counters["article_views"]
            + 0.3 * counters["article_clicks"]
            + counters["video_plays"]
            + 2 * counters["newsletter_signups"]
            + 0.8 * (self.counts.get("share", 0) + self.counts.get("comment", 0))
            + duration / 300
        )
        return round(min(score, 10.0), 2)


def _mean(values: list[int]) -> int | None:
    return round(sum(values) / len(values)) if values else None
