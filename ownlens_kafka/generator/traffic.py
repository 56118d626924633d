"""Demo traffic: the simulated publisher's activity as records per stream, and the run loop."""

from __future__ import annotations

import itertools
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar
from urllib.parse import quote_plus
from uuid import UUID

from confluent_kafka import KafkaError, Message, Producer
from pydantic_core import to_json

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.envelope import PRODUCER, Headers
from ownlens_kafka.errors import DeliveryError, DeliveryFailure
from ownlens_kafka.generator.world import (
    Article,
    Brand,
    Category,
    Company,
    Employee,
    MlModel,
    User,
    World,
    new_id,
    public_ip,
)
from ownlens_kafka.logs import log, with_logging
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.producers import PRODUCERS
from ownlens_kafka.streams import STREAMS, StreamSpec, get_stream

Payload = dict[str, Any]
Emitted = list[tuple[str, Payload]]
T = TypeVar("T")

SEEDED_START = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
SIMULATED_STEP_SECONDS = 0.25  # mean simulated time between two activities of a seeded run
FLUSH_SECONDS = 1.0
FLUSH_EVERY = 100_000
LINGER_MS = 100  # fewer, bigger batches: far less broker and client CPU per event
_HOLD_MAX = 64


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """A uniformly random item (`rng.choice`, several times faster)."""
    return items[int(rng.random() * len(items))]


def between(rng: random.Random, low: int, high: int) -> int:
    """A random integer from `low` to `high` inclusive (`rng.randint`, faster)."""
    return low + int(rng.random() * (high - low + 1))


class Weighted(Generic[T]):
    """Items drawn in proportion to integer weights, by one table lookup."""

    __slots__ = ("_table",)

    def __init__(self, pairs: Iterable[tuple[T, int]]) -> None:
        self._table = tuple(item for item, weight in pairs for _ in range(weight))

    def pick(self, rng: random.Random) -> T:
        return self._table[int(rng.random() * len(self._table))]


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


# --- time -----------------------------------------------------------------------------------


class SimulatedClock:
    """Seeded runs: time starts at `start` and moves by random steps, the same on every run."""

    def __init__(self, rng: random.Random, start: datetime = SEEDED_START) -> None:
        self._rng = rng
        self._now = start

    def tick(self) -> datetime:
        step = self._rng.expovariate(1 / SIMULATED_STEP_SECONDS)
        self._now += timedelta(milliseconds=int(step * 1000))
        return self._now


class WallClock:
    """Live runs: the current UTC time, never going backwards."""

    def __init__(self) -> None:
        self._last = datetime.now(UTC)

    def tick(self) -> datetime:
        self._last = max(self._last, datetime.now(UTC))
        return self._last


Clock = SimulatedClock | WallClock


@dataclass(eq=False, slots=True)
class Sim:
    """What every activity shares: the world, the random source and the current time."""

    world: World
    rng: random.Random
    now: datetime

    def id(self) -> UUID:
        return new_id(self.rng)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability


class Activity(ABC):
    """One kind of thing happening at the publisher; `step` returns the records it causes."""

    streams: ClassVar[frozenset[str]]
    weight: ClassVar[int]

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    @abstractmethod
    def step(self) -> Emitted: ...


# --- newsroom ---------------------------------------------------------------------------------

_TOPICS = {
    "news": ("the housing crisis", "the new tram line", "flood defences", "the teachers' strike"),
    "politics": ("the budget vote", "coalition talks", "the mayoral race", "new voting rules"),
    "business": ("interest rates", "the retail slump", "the chip shortage", "start-up funding"),
    "sport": ("the title race", "the transfer window", "the derby", "the Olympic squad"),
    "culture": ("the film festival", "the new gallery", "summer albums", "the theatre season"),
    "technology": ("AI assistants", "foldable phones", "data privacy", "e-scooters"),
    "science": ("the Mars mission", "the heatwave", "a new vaccine", "ocean plastics"),
    "travel": ("city breaks", "night trains", "the Alps", "budget airlines"),
    "opinion": ("the four-day week", "remote work", "local newspapers", "rent caps"),
    "motoring": ("electric SUVs", "the new hatchback", "charging networks", "speed limits"),
    "lifestyle": ("sourdough", "running clubs", "home offices", "sleep"),
}
_HEADLINES = (
    "{Topic}: what we know so far",
    "Why {topic} matters more than ever",
    "Five things to know about {topic}",
    "Inside the fight over {topic}",
    "How {topic} is changing",
    "The week in {topic}",
    "{Topic}, explained",
    "Live: the latest on {topic}",
)
_ARTICLE_TYPES = Weighted(
    [("news", 40), ("analysis", 15), ("feature", 15), ("opinion", 10), ("live", 5), ("review", 5)]
)


class Newsroom(Activity):
    """Publishes articles (and now and then updates one); other activities pick from them."""

    streams = frozenset({"articles"})
    weight = 3

    def step(self) -> Emitted:
        brand = pick(self.sim.rng, self.sim.world.brands)
        if brand.articles and self.sim.chance(0.15):
            return [("articles", self._update(pick(self.sim.rng, brand.articles)))]
        return [("articles", self._publish(brand).payload)]

    def pick(self, brand: Brand) -> tuple[Article, Emitted]:
        """A recent article of `brand`, publishing its first one (emitted first) if needed."""
        if not brand.articles:
            article = self._publish(brand)
            return article, [("articles", article.payload)]
        last = len(brand.articles) - 1
        return brand.articles[last - min(int(self.sim.rng.expovariate(0.1)), last)], []

    def _publish(self, brand: Brand) -> Article:
        sim, rng = self.sim, self.sim.rng
        category = rng.choices(brand.categories, (4, 1, 1, 1, 1, 1))[0]
        topic = pick(rng, _TOPICS[category.slug])
        title = pick(rng, _HEADLINES).format(topic=topic, Topic=topic[0].upper() + topic[1:])
        number = rng.randrange(100_000, 1_000_000)
        path = f"/{category.slug}/{_slug(title)}-{number}"
        kind = "opinion" if category.slug == "opinion" else _ARTICLE_TYPES.pick(rng)
        author = pick(rng, brand.authors)
        others = [a for a in brand.authors if a is not author]
        secondary = pick(rng, [c for c in brand.categories if c is not category])
        words = between(rng, 250, 2_400)
        tags = [category.slug, _slug(topic)]
        article_id = sim.id()
        payload: Payload = {
            "company_id": brand.company_id,
            "brand_id": brand.brand_id,
            "article_id": article_id,
            "external_article_id": f"cms-{number}",
            "title": title,
            "headline": topic[0].upper() + topic[1:],
            "summary": f"{brand.name} on {topic}.",
            "content_url": brand.base_url + path,
            "article_type": kind,
            "primary_author_id": author.author_id,
            "co_author_ids": [a.author_id for a in rng.sample(others, pick(rng, (0, 0, 1, 2)))],
            "primary_category_id": category.category_id,
            "secondary_category_ids": [secondary.category_id],
            "tags": tags,
            "word_count": words,
            "reading_time_minutes": max(1, round(words / 230)),
            "image_count": between(rng, 0, 8),
            "video_count": pick(rng, (0, 0, 0, 1)),
            "publish_time": sim.now,
            "last_updated_time": sim.now,
            "status": "published",
            "meta_description": f"{title} | {brand.name}",
            "meta_keywords": tags,
            "canonical_url": brand.base_url + path,
            "relevant_countries": [brand.country_code],
            "metadata": {"byline": author.name},
        }
        article = Article(
            article_id, str(article_id), title, path, kind, category, author, sim.now, payload
        )
        brand.articles.append(article)
        return article

    def _update(self, article: Article) -> Payload:
        words = max(100, article.payload["word_count"] + between(self.sim.rng, -80, 300))
        return {
            **article.payload,
            "word_count": words,
            "reading_time_minutes": max(1, round(words / 230)),
            "last_updated_time": self.sim.now,
        }


# --- readers: user events and sessions --------------------------------------------------------

_USER_EVENTS = Weighted(
    [
        ("article_view", 30),
        ("page_view", 14),
        ("scroll", 12),
        ("article_click", 10),
        ("navigation", 8),
        ("search", 5),
        ("video_play", 5),
        ("ad_click", 3),
        ("share", 3),
        ("comment", 2),
        ("subscription_prompt", 2),
        ("newsletter_signup", 1),
    ]
)
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
_NEEDS_ARTICLE = frozenset({"video_play", "share", "comment"})
_SPECIAL_PAGES = {
    "subscription_prompt": "/subscribe",
    "newsletter_signup": "/newsletters",
}
_SEARCHES = ("election", "weather", "transfer news", "recipes", "house prices", "crossword")
_REFERRERS = (
    (None, "direct"),
    ("https://www.google.com/", "search"),
    ("https://news.google.com/", "aggregator"),
    ("https://t.co/", "social"),
    ("https://www.facebook.com/", "social"),
    ("https://mail.example/newsletter", "email"),
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
        user, device, place = self.user, self.user.device, self.user.place
        duration = int((ended_at - self.started_at).total_seconds())
        counters = {name: self.counts.get(kind, 0) for kind, name in SESSION_COUNTERS.items()}
        return {
            "company_id": self.brand.company_id,
            "brand_id": self.brand.brand_id,
            "session_id": self.session_id,
            "user_id": user.user_id,
            "account_id": user.account_id,
            "country_code": place.country_code,
            "city_id": place.city_id,
            "timezone": place.timezone,
            "device_type_id": device.device_type_id,
            "os_id": device.os_id,
            "browser_id": device.browser_id,
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


class Readers(Activity):
    """Readers browsing in sessions; a session is emitted when it ends, after its events."""

    streams = frozenset({"user_events", "sessions"})
    weight = 50
    concurrent_sessions = 40

    def __init__(self, sim: Sim, newsroom: Newsroom) -> None:
        super().__init__(sim)
        self.newsroom = newsroom
        self.open: list[OpenSession] = []

    def step(self) -> Emitted:
        session = self._session()
        kind = self._kind(session)
        emitted, page = self._page(session, kind)
        emitted.append(("user_events", self._event(session, kind, page)))
        if session.total >= session.planned:
            emitted += self._close(session)
        return emitted

    def _session(self) -> OpenSession:
        rng = self.sim.rng
        if not self.open or (len(self.open) < self.concurrent_sessions and rng.random() < 0.25):
            brand = pick(rng, self.sim.world.brands)
            session = OpenSession(
                session_id=self.sim.id(),
                user=pick(rng, brand.users),
                brand=brand,
                started_at=self.sim.now,
                planned=min(40, 2 + int(rng.expovariate(1 / 8))),
                referrer=pick(rng, _REFERRERS)[0],
            )
            self.open.append(session)
            return session
        return pick(rng, self.open)

    def _kind(self, session: OpenSession) -> str:
        kind = _USER_EVENTS.pick(self.sim.rng)
        if session.page is None and kind not in PAGE_LOADS:
            return "article_view"  # a session starts with a page load
        if kind in _NEEDS_ARTICLE and (session.page is None or session.page.article is None):
            return "article_view"
        return kind

    def _page(self, session: OpenSession, kind: str) -> tuple[Emitted, Page | None]:
        """Where the event happens, and the article published for it if the brand had none."""
        brand, rng = session.brand, self.sim.rng
        if kind in ("article_view", "article_click"):
            article, emitted = self.newsroom.pick(brand)
            return emitted, Page(article.path, article.category, article)
        if kind in ("page_view", "navigation"):
            category = pick(rng, brand.categories)
            return [], Page(f"/{category.slug}", category)
        if kind == "search":
            return [], Page(f"/search?q={quote_plus(pick(rng, _SEARCHES))}", None)
        if kind in _SPECIAL_PAGES:
            return [], Page(_SPECIAL_PAGES[kind], None)
        return [], session.page  # an interaction on the current page

    def _event(self, session: OpenSession, kind: str, page: Page | None) -> Payload:
        now = self.sim.now
        article = page.article if page else None
        metrics = self._metrics(kind, session, now)
        session.add(kind, page, metrics, now)
        return {
            **session.scope,
            "event_id": self.sim.id(),
            "event_type": kind,
            "event_timestamp": now,
            "article_id": article.key if article else None,
            "article_title": article.title if article else None,
            "article_type": article.article_type if article else None,
            "category_id": page.category.category_id if page and page.category else None,
            "page_url": session.brand.base_url + page.path if page else None,
            "engagement_metrics": metrics,
        }

    def _metrics(self, kind: str, session: OpenSession, now: datetime) -> Payload:
        rng = self.sim.rng
        if kind == "article_view":
            return {
                "time_on_page": int(rng.lognormvariate(4, 0.8)),
                "scroll_depth": between(rng, 5, 100),
            }
        if kind == "scroll":
            return {"scroll_depth": between(rng, 10, 100)}
        if kind == "video_play":
            return {"video_seconds": between(rng, 3, 600)}
        if kind == "search":
            return {"results": between(rng, 0, 120)}
        if kind == "session_end":
            return {"duration_sec": int((now - session.started_at).total_seconds())}
        return {}

    def _close(self, session: OpenSession) -> Emitted:
        self.open.remove(session)
        end = self._event(session, "session_end", session.page)
        return [("user_events", end), ("sessions", session.record(self.sim.now))]


# --- editorial engagement -----------------------------------------------------------------

_CONTENT_EVENTS = Weighted(
    [
        ("article_view", 40),
        ("article_click", 20),
        ("like", 15),
        ("share", 10),
        ("bookmark", 8),
        ("comment", 7),
    ]
)
_SHARE_CHANNELS = ("whatsapp", "x", "facebook", "email", "copy_link")


class Engagement(Activity):
    """Readers engaging with published articles: views, likes, shares, comments."""

    streams = frozenset({"content_events"})
    weight = 15

    def __init__(self, sim: Sim, newsroom: Newsroom) -> None:
        super().__init__(sim)
        self.newsroom = newsroom

    def step(self) -> Emitted:
        sim, rng = self.sim, self.sim.rng
        brand = pick(rng, sim.world.brands)
        article, emitted = self.newsroom.pick(brand)
        reader = pick(rng, brand.users)
        kind = _CONTENT_EVENTS.pick(rng)
        referrer, referrer_type = pick(rng, _REFERRERS)
        emitted.append(
            (
                "content_events",
                {
                    "company_id": brand.company_id,
                    "brand_id": brand.brand_id,
                    "event_id": sim.id(),
                    "article_id": article.article_id,
                    "user_id": reader.user_id if rng.random() < 0.8 else None,
                    "event_type": kind,
                    "event_timestamp": sim.now,
                    "category_id": article.category.category_id,
                    "author_id": article.author.author_id,
                    "country_code": reader.place.country_code,
                    "city_id": reader.place.city_id,
                    "device_type_id": reader.device.device_type_id,
                    "os_id": reader.device.os_id,
                    "browser_id": reader.device.browser_id,
                    "referrer": referrer,
                    "referrer_type": referrer_type,
                    "engagement_metrics": self._metrics(kind),
                },
            )
        )
        return emitted

    def _metrics(self, kind: str) -> Payload | None:
        rng = self.sim.rng
        if kind == "article_view":
            return {
                "time_on_page": int(rng.lognormvariate(4, 0.8)),
                "scroll_depth": between(rng, 5, 100),
            }
        if kind == "share":
            return {"channel": pick(rng, _SHARE_CHANNELS)}
        if kind == "comment":
            return {"comment_length": between(rng, 5, 800)}
        return None


# --- company: internal content -------------------------------------------------------------

_INTERNAL = Weighted(
    [
        ("announcement", 25),
        ("newsletter", 15),
        ("internal_article", 20),
        ("policy", 8),
        ("update", 22),
        ("event", 10),
    ]
)
_INTERNAL_TITLES = {
    "announcement": "Welcome to the new {dept} lead",
    "newsletter": "{company} weekly, issue {n}",
    "internal_article": "How the {dept} team shipped the new app",
    "policy": "Updated {dept} policy on remote work",
    "update": "{dept} quarterly update",
    "event": "Town hall with {dept}: questions welcome",
}
_EXPIRES_IN_DAYS = {"announcement": 30, "policy": 365, "event": 14}
_PRIORITIES = Weighted([("low", 20), ("normal", 60), ("high", 15), ("urgent", 5)])


class Intranet(Activity):
    """Employees publishing announcements, newsletters and policies to departments."""

    streams = frozenset({"internal_content"})
    weight = 2

    def step(self) -> Emitted:
        sim, rng = self.sim, self.sim.rng
        company = pick(rng, sim.world.companies)
        author = pick(rng, company.employees)
        kind = _INTERNAL.pick(rng)
        title = _INTERNAL_TITLES[kind].format(
            dept=author.department.name, company=company.name, n=between(rng, 1, 250)
        )
        company_wide = kind in ("newsletter", "policy") or rng.random() < 0.3
        priority = _PRIORITIES.pick(rng)
        expires = _EXPIRES_IN_DAYS.get(kind)
        targets = rng.sample(company.departments, between(rng, 1, 3))
        payload: Payload = {
            "company_id": company.company_id,
            "brand_id": author.brand_id,
            "content_id": sim.id(),
            "title": title,
            "content_type": kind,
            "summary": f"{title}. Posted by {author.department.name}.",
            "content_url": f"https://intranet.{company.slug}.example/{kind}/{_slug(title)}",
            "author_employee_id": author.employee_id,
            "author_department_id": author.department.department_id,
            "department_id": author.department.department_id,
            "tags": [kind, _slug(author.department.name)],
            "publish_time": sim.now,
            "expiry_date": (sim.now + timedelta(days=expires)).date() if expires else None,
            "status": "published",
            "target_departments": None if company_wide else [d.department_id for d in targets],
            "target_employee_levels": None if company_wide else ["staff", "senior", "manager"],
            "target_countries": [company.country_code],
            "is_company_wide": company_wide,
            "priority_level": priority,
            "is_important": priority in ("high", "urgent"),
        }
        return [("internal_content", payload)]


# --- security -------------------------------------------------------------------------------

_SECURITY_EVENTS = Weighted(
    [
        ("LOGIN_SUCCESS", 45),
        ("LOGOUT", 20),
        ("LOGIN_FAILED", 15),
        ("PERMISSION_DENIED", 7),
        ("PASSWORD_CHANGE", 5),
        ("ROLE_CHANGE", 3),
        ("SUSPICIOUS_ACTIVITY", 5),
    ]
)
_SEVERITY = {
    "LOGIN_SUCCESS": "INFO",
    "LOGOUT": "INFO",
    "PASSWORD_CHANGE": "INFO",
    "LOGIN_FAILED": "WARNING",
    "PERMISSION_DENIED": "WARNING",
    "ROLE_CHANGE": "WARNING",
    "SUSPICIOUS_ACTIVITY": "CRITICAL",
}
_FAILURES = {
    "LOGIN_FAILED": ("invalid_password", "unknown_user", "mfa_failed", "account_locked"),
    "PERMISSION_DENIED": ("insufficient_role", "resource_restricted"),
    "SUSPICIOUS_ACTIVITY": ("credential_stuffing", "impossible_travel", "token_replay"),
}
_BOT_AGENTS = ("python-requests/2.31.0", "curl/8.5.0", "Go-http-client/1.1")


@dataclass(frozen=True, slots=True)
class Actor:
    """Someone who logs in: an employee, or a reader with an account."""

    user_id: UUID
    company_id: UUID
    brand_id: UUID
    ip_address: str
    user_agent: str
    employee: bool

    @property
    def role(self) -> str:
        return "staff member" if self.employee else "reader"


class Security(Activity):
    """Logins, logouts and incidents of staff and registered readers."""

    streams = frozenset({"security_events"})
    weight = 6

    def __init__(self, sim: Sim) -> None:
        super().__init__(sim)
        self.actors = _actors(sim.world)
        self.logged_in: dict[UUID, UUID] = {}

    def step(self) -> Emitted:
        sim, rng = self.sim, self.sim.rng
        actor = pick(rng, self.actors)
        kind = _SECURITY_EVENTS.pick(rng)
        if kind == "ROLE_CHANGE" and not actor.employee:
            kind = "PASSWORD_CHANGE"
        hostile = kind == "SUSPICIOUS_ACTIVITY" or (kind == "LOGIN_FAILED" and sim.chance(0.3))
        success = kind not in _FAILURES
        payload: Payload = {
            "company_id": actor.company_id,
            "brand_id": actor.brand_id,
            "event_id": sim.id(),
            "user_id": actor.user_id,
            "ip_address": public_ip(rng) if hostile else actor.ip_address,
            "user_agent": pick(rng, _BOT_AGENTS) if hostile else actor.user_agent,
            "event_type": kind,
            "event_severity": _SEVERITY[kind],
            "description": f"{kind.replace('_', ' ').lower()} by a {actor.role}",
            "success": success,
            "failure_reason": None if success else pick(rng, _FAILURES[kind]),
            "event_timestamp": sim.now,
            "session_id": self._session(actor, kind),
            "event_data": self._data(kind),
        }
        return [("security_events", payload)]

    def _session(self, actor: Actor, kind: str) -> UUID | None:
        """Login sessions: a logout closes the session its login opened."""
        if kind == "LOGIN_SUCCESS":
            session = self.logged_in[actor.user_id] = self.sim.id()
            return session
        if kind == "LOGOUT":
            return self.logged_in.pop(actor.user_id, None)
        if kind in ("LOGIN_FAILED", "SUSPICIOUS_ACTIVITY"):
            return None
        return self.logged_in.get(actor.user_id)

    def _data(self, kind: str) -> Payload:
        rng = self.sim.rng
        if kind == "ROLE_CHANGE":
            return {"from_role": "editor", "to_role": pick(rng, ("admin", "viewer", "analyst"))}
        if kind in ("LOGIN_FAILED", "SUSPICIOUS_ACTIVITY"):
            return {"failed_attempts": between(rng, 1, 40), "method": "password"}
        return {"method": pick(rng, ("password", "sso", "magic_link"))}


def _actors(world: World) -> list[Actor]:
    staff = [
        Actor(e.employee_id, c.company_id, e.brand_id, e.ip_address, e.user_agent, True)
        for c in world.companies
        for e in c.employees
    ]
    readers = [
        Actor(u.user_id, b.company_id, b.brand_id, u.ip_address, u.device.user_agent, False)
        for b in world.brands
        for u in b.users
        if u.account_id is not None
    ]
    return staff + readers


# --- compliance -----------------------------------------------------------------------------

_COMPLIANCE_TYPES = Weighted(
    [
        ("GDPR_ACCESS_REQUEST", 30),
        ("GDPR_DELETION_REQUEST", 20),
        ("CONSENT_UPDATE", 30),
        ("DATA_EXPORT", 12),
        ("DATA_RETENTION", 8),
    ]
)
_LIFECYCLE = (("REQUEST", "PENDING"), ("PROCESSED", "PROCESSING"), ("COMPLETED", "COMPLETED"))
_WITH_EXPORT = frozenset({"GDPR_ACCESS_REQUEST", "DATA_EXPORT"})


@dataclass(eq=False, slots=True)
class Request:
    """A compliance request moving REQUEST -> PROCESSED -> COMPLETED, one event per step."""

    request_id: UUID
    compliance_type: str
    company: Company
    brand_id: UUID
    user: User | None
    requested_by: UUID
    handler: Employee
    requested_at: datetime
    processed_at: datetime | None = None
    step: int = 0


class Compliance(Activity):
    """GDPR, consent and retention requests; each later step is a new event of the same request."""

    streams = frozenset({"compliance_events"})
    weight = 3
    max_open = 20

    def __init__(self, sim: Sim) -> None:
        super().__init__(sim)
        self.open: deque[Request] = deque()

    def step(self) -> Emitted:
        if self.open and (len(self.open) >= self.max_open or self.sim.chance(0.7)):
            request = self.open.popleft()
        else:
            request = self._new()
        payload = self._event(request)
        request.step += 1
        if request.step < len(_LIFECYCLE):
            self.open.append(request)
        return [("compliance_events", payload)]

    def _new(self) -> Request:
        sim, rng = self.sim, self.sim.rng
        company = pick(rng, sim.world.companies)
        kind = _COMPLIANCE_TYPES.pick(rng)
        legal = [e for e in company.employees if e.department.name in ("Legal", "Data")]
        handler = pick(rng, legal or company.employees)
        if kind == "DATA_RETENTION":
            brand, user, requester = company.brands[0], None, handler.employee_id
        else:
            brand = pick(rng, company.brands)
            user = pick(rng, brand.users)
            requester = user.user_id if sim.chance(0.8) else handler.employee_id
        return Request(sim.id(), kind, company, brand.brand_id, user, requester, handler, sim.now)

    def _event(self, request: Request) -> Payload:
        sim = self.sim
        event_type, status = _LIFECYCLE[request.step]
        if event_type == "PROCESSED":
            request.processed_at = sim.now
        done = event_type == "COMPLETED"
        export = done and request.compliance_type in _WITH_EXPORT
        user_id = request.user.user_id if request.user else None
        return {
            "company_id": request.company.company_id,
            "brand_id": request.brand_id,
            "event_id": sim.id(),
            "compliance_type": request.compliance_type,
            "event_type": event_type,
            "description": request.compliance_type.replace("_", " ").lower(),
            "user_id": user_id,
            "requested_by": request.requested_by,
            "processed_by": request.handler.employee_id if request.step else None,
            "resource_type": "raw.user_events" if user_id is None else "user_profile",
            "resource_ids": [user_id] if user_id else None,
            "data_scope": {"tables": ["raw.user_events", "raw.sessions"], "days": 395},
            "status": status,
            "status_message": f"{event_type.lower()} at {sim.now:%Y-%m-%d %H:%M} UTC",
            "requested_at": request.requested_at,
            "processed_at": request.processed_at,
            "completed_at": sim.now if done else None,
            "event_timestamp": sim.now,
            "records_affected": between(sim.rng, 0, 5_000) if done else None,
            "data_export_url": (
                f"https://privacy.{request.company.slug}.example/exports/{request.request_id}.zip"
                if export
                else None
            ),
            "metadata": {"request_id": str(request.request_id)},
        }


# --- audit ----------------------------------------------------------------------------------

_AUDIT_ACTIONS = Weighted(
    [
        ("READ", 40),
        ("UPDATE", 15),
        ("WRITE", 12),
        ("EXECUTE", 8),
        ("LOGIN", 10),
        ("LOGOUT", 7),
        ("EXPORT", 5),
        ("DELETE", 3),
    ]
)
# action -> (HTTP method, endpoint suffix, status code on success)
_ROUTES = {
    "READ": ("GET", "/{id}", 200),
    "UPDATE": ("PATCH", "/{id}", 200),
    "WRITE": ("POST", "", 201),
    "EXECUTE": ("POST", "/{id}/run", 202),
    "EXPORT": ("POST", "/{id}/export", 200),
    "DELETE": ("DELETE", "/{id}", 204),
}
_AUDIT_ERRORS = (
    (400, "VALIDATION_ERROR", "request body failed validation"),
    (403, "FORBIDDEN", "role does not allow this action"),
    (404, "NOT_FOUND", "resource does not exist"),
    (409, "CONFLICT", "resource was modified concurrently"),
    (500, "INTERNAL_ERROR", "unexpected server error"),
)
_SERVICE_AGENT = "ownlens-etl/1.4 (python-httpx)"


class Audit(Activity):
    """Staff and service API keys acting on articles, readers, reports and models."""

    streams = frozenset({"audit_logs"})
    weight = 8

    def __init__(self, sim: Sim, newsroom: Newsroom) -> None:
        super().__init__(sim)
        self.newsroom = newsroom

    def step(self) -> Emitted:
        sim, rng = self.sim, self.sim.rng
        company = pick(rng, sim.world.companies)
        staff = pick(rng, company.employees) if sim.chance(0.85) else None
        action = _AUDIT_ACTIONS.pick(rng)
        emitted, resource = self._resource(company, action)
        resource_type, resource_id, identifier = resource
        method, endpoint, code = self._route(action, resource_type, resource_id)
        success = sim.chance(0.95)
        error = None if success else pick(rng, _AUDIT_ERRORS)
        payload: Payload = {
            "company_id": company.company_id,
            "brand_id": staff.brand_id if staff else company.brands[0].brand_id,
            "log_id": sim.id(),
            "user_id": staff.employee_id if staff else None,
            "api_key_id": None if staff else company.api_key_id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "resource_identifier": identifier,
            "ip_address": staff.ip_address if staff else "2a05:d014::5e1",
            "user_agent": staff.user_agent if staff else _SERVICE_AGENT,
            "endpoint": endpoint,
            "method": method,
            "event_timestamp": sim.now,
            "success": success,
            "status_code": code if error is None else error[0],
            "error_code": error[1] if error else None,
            "error_message": error[2] if error else None,
            "request_data": {"fields": ["title", "summary"]} if action == "UPDATE" else None,
            "request_size_bytes": between(rng, 0, 4_096),
            "response_size_bytes": between(rng, 64, 250_000) if success else between(rng, 40, 400),
            "response_time_ms": int(rng.lognormvariate(3.5, 0.7)),
        }
        emitted.append(("audit_logs", payload))
        return emitted

    def _resource(
        self, company: Company, action: str
    ) -> tuple[Emitted, tuple[str, UUID | None, str | None]]:
        rng = self.sim.rng
        if action in ("LOGIN", "LOGOUT"):
            return [], ("auth_session", None, None)
        kind = pick(rng, ("article", "article", "user", "report", "model"))
        if kind == "article":
            article, emitted = self.newsroom.pick(pick(rng, company.brands))
            return emitted, ("article", article.article_id, article.payload["external_article_id"])
        if kind == "user":
            user = pick(rng, pick(rng, company.brands).users)
            return [], ("user", user.user_id, None)
        if kind == "model":
            model = pick(rng, company.models)
            return [], ("model", model.model_id, model.name)
        return [], ("report", self.sim.id(), pick(rng, ("weekly-engagement", "ad-revenue")))

    def _route(
        self, action: str, resource_type: str, resource_id: UUID | None
    ) -> tuple[str, str, int]:
        if action in ("LOGIN", "LOGOUT"):
            return "POST", f"/api/v1/auth/{action.lower()}", 200 if action == "LOGIN" else 204
        method, suffix, code = _ROUTES[action]
        return method, f"/api/v1/{resource_type}s" + suffix.format(id=resource_id), code


# --- data quality ---------------------------------------------------------------------------

QUALITY_TABLES = (
    *((f"raw.{spec.name}", spec.domain) for spec in STREAMS),
    ("analytics.brand_daily_engagement", "editorial"),
    ("analytics.user_daily_activity", "customer"),
)
_GRADES = ((0.97, "A"), (0.93, "B"), (0.88, "C"), (0.8, "D"), (0.0, "F"))


class Quality(Activity):
    """Daily quality checks: every table of every company for a day, then the next day.

    Days run from three days before the start to yesterday; once caught up, yesterday's checks
    run again (a re-run of the same table and day).
    """

    streams = frozenset({"quality_metrics"})
    weight = 3

    def __init__(self, sim: Sim) -> None:
        super().__init__(sim)
        self.day = sim.now.date() - timedelta(days=3)
        self.queue = self._checks()

    def _checks(self) -> deque[tuple[Company, str, str]]:
        world = self.sim.world
        return deque((c, t, d) for c in world.companies for t, d in QUALITY_TABLES)

    def step(self) -> Emitted:
        if not self.queue:
            self.day = min(self.day + timedelta(days=1), self.sim.now.date() - timedelta(days=1))
            self.queue = self._checks()
        company, table, domain = self.queue.popleft()
        return [("quality_metrics", self._metric(company, table, domain, self.day))]

    def _metric(self, company: Company, table: str, domain: str, day: date) -> Payload:
        rng = self.sim.rng
        total = between(rng, 5_000, 400_000)
        nulls, invalid = int(total * rng.uniform(0, 0.02)), int(total * rng.uniform(0, 0.005))
        duplicates = int(total * rng.uniform(0, 0.003))
        scores = {
            "completeness_score": 1 - nulls / total,
            "validity_score": 1 - invalid / total,
            "uniqueness_score": 1 - duplicates / total,
            "accuracy_score": rng.uniform(0.95, 1),
            "consistency_score": rng.uniform(0.9, 1),
            "timeliness_score": rng.uniform(0.8, 1),
        }
        overall = sum(scores.values()) / len(scores)
        return {
            "company_id": company.company_id,
            "brand_id": company.brands[0].brand_id,
            "metric_id": self.sim.id(),
            "table_name": table,
            "domain": domain,
            "metric_date": day,
            "total_records": total,
            "null_count": nulls,
            "invalid_count": invalid,
            "duplicate_count": duplicates,
            "out_of_range_count": invalid // 3,
            "format_errors": invalid // 2,
            "stale_records": int(total * rng.uniform(0, 0.01)),
            "unique_count": total - duplicates,
            "null_percentage": round(nulls / total, 5),
            "invalid_percentage": round(invalid / total, 5),
            "duplicate_percentage": round(duplicates / total, 5),
            **{name: round(value, 4) for name, value in scores.items()},
            "overall_quality_score": round(overall, 4),
            "avg_data_age_hours": round(rng.uniform(0.2, 30), 2),
            "quality_grade": next(grade for floor, grade in _GRADES if overall >= floor),
        }


# --- ML predictions -------------------------------------------------------------------------


class Predictions(Activity):
    """Model predictions, and later their outcomes.

    An outcome is a follow-up record with a new prediction_id: the original's model, entity,
    prediction and predicted_at, the actuals filled in, and metadata.outcome_of naming the
    original prediction_id.
    """

    streams = frozenset({"model_predictions"})
    weight = 6
    max_pending = 50
    batch_size = 25

    def __init__(self, sim: Sim, newsroom: Newsroom) -> None:
        super().__init__(sim)
        self.newsroom = newsroom
        self.pending: deque[tuple[MlModel, Payload]] = deque()
        self.batches: dict[UUID, tuple[UUID, int]] = {}

    def step(self) -> Emitted:
        if self.pending and (len(self.pending) >= self.max_pending or self.sim.chance(0.45)):
            return [("model_predictions", self._outcome(*self.pending.popleft()))]
        emitted, model, prediction = self._predict()
        if self.sim.chance(0.7):
            self.pending.append((model, prediction))
        emitted.append(("model_predictions", prediction))
        return emitted

    def _predict(self) -> tuple[Emitted, MlModel, Payload]:
        sim, rng = self.sim, self.sim.rng
        company = pick(rng, sim.world.companies)
        model = pick(rng, company.models)
        brand = pick(rng, company.brands)
        emitted: Emitted = []
        if model.entity_type == "article":
            article, emitted = self.newsroom.pick(brand)
            entity_id, features = article.article_id, self._article_features(article)
        else:
            user = pick(rng, brand.users)
            entity_id, features = user.user_id, self._user_features(user)
        payload: Payload = {
            "company_id": company.company_id,
            "brand_id": brand.brand_id,
            "prediction_id": sim.id(),
            "model_id": model.model_id,
            "prediction_type": model.prediction_type,
            "entity_id": entity_id,
            "entity_type": model.entity_type,
            "input_features": features,
            "predicted_at": sim.now,
            "batch_id": self._batch(model),
            **self._prediction(model),
        }
        return emitted, model, payload

    def _prediction(self, model: MlModel) -> Payload:
        rng = self.sim.rng
        if model.classes is None:
            value = round(rng.lognormvariate(8, 1), 1)
            confidence = round(rng.uniform(0.5, 0.95), 3)
            return {"prediction_value": value, "prediction_confidence": confidence}
        probability = round(rng.betavariate(2, 5), 4)
        positive, negative = model.classes
        return {
            "prediction_value": probability,
            "prediction_probability": probability,
            "prediction_class": positive if probability >= 0.5 else negative,
            "prediction_confidence": round(max(probability, 1 - probability), 4),
        }

    def _outcome(self, model: MlModel, prediction: Payload) -> Payload:
        rng = self.sim.rng
        outcome = {
            **prediction,
            "prediction_id": self.sim.id(),
            "actual_observed_at": self.sim.now,
            "metadata": {"outcome_of": str(prediction["prediction_id"])},
        }
        predicted = prediction["prediction_value"]
        if model.classes is None:
            actual = round(predicted * rng.lognormvariate(0, 0.35), 1)
            correct = abs(actual - predicted) <= 0.25 * predicted
            return outcome | {"actual_value": actual, "is_correct": correct}
        happened = rng.random() < predicted
        actual_class = model.classes[0] if happened else model.classes[1]
        return outcome | {
            "actual_value": 1.0 if happened else 0.0,
            "actual_class": actual_class,
            "is_correct": actual_class == prediction["prediction_class"],
        }

    def _batch(self, model: MlModel) -> UUID:
        """Predictions come in scoring runs of `batch_size`, sharing a batch_id."""
        current = self.batches.get(model.model_id)
        batch_id, left = current if current else (self.sim.id(), self.batch_size)
        self.batches[model.model_id] = (batch_id, left - 1)
        if left == 1:
            del self.batches[model.model_id]
        return batch_id

    def _user_features(self, user: User) -> Payload:
        rng = self.sim.rng
        return {
            "days_since_last_visit": between(rng, 0, 60),
            "sessions_30d": between(rng, 0, 45),
            "tier": user.tier,
            "segment": user.segment,
        }

    def _article_features(self, article: Article) -> Payload:
        return {
            "category": article.category.slug,
            "article_type": article.article_type,
            "word_count": article.payload["word_count"],
            "hour_published": article.published_at.hour,
        }


# --- records, valid and invalid -------------------------------------------------------------


class Record(NamedTuple):
    """One record for a stream: a valid event payload, or bytes that are not a valid event."""

    stream: str
    payload: Payload | None = None
    value: bytes | None = None
    key: str | None = None
    flaw: str | None = None

    @property
    def valid(self) -> bool:
        return self.payload is not None


def _key(spec: StreamSpec, payload: Payload) -> str:
    return "_".join(str(payload.get(name)) for name in spec.key_fields)


def _truncated(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    data = to_json(payload)
    return data[: rng.randrange(1, len(data) - 1)]


def _garbage(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return rng.randbytes(between(rng, 8, 64))


def _python_repr(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return repr(payload).encode()


def _csv_line(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return ",".join(str(value) for value in payload.values()).encode()


def _missing_field(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    required = [n for n, f in spec.model.model_fields.items() if f.is_required()]
    dropped = pick(rng, required)
    return to_json({k: v for k, v in payload.items() if k != dropped})


def _bad_uuid(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    field_name = pick(rng, ("company_id", "brand_id"))
    return to_json(payload | {field_name: f"{field_name[:-3]}-{between(rng, 1, 999)}"})


def _unknown_field(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return to_json(payload | {"legacy_tracking_code": between(rng, 1, 10**6)})


def _wrong_type(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return to_json(payload | {"metadata": ["not", "an", "object"]})


def _not_an_object(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return to_json([payload])


# name -> how to spoil a valid payload; the first four are not JSON, the rest break the schema
FLAWS: dict[str, Callable[[StreamSpec, Payload, random.Random], bytes]] = {
    "truncated": _truncated,
    "garbage": _garbage,
    "python_repr": _python_repr,
    "csv_line": _csv_line,
    "missing_field": _missing_field,
    "bad_uuid": _bad_uuid,
    "unknown_field": _unknown_field,
    "wrong_type": _wrong_type,
    "not_an_object": _not_an_object,
}
_FLAW_NAMES = tuple(FLAWS)


def spoil(record: Record, rng: random.Random) -> Record:
    """An invalid record for the stream of `record`, made from its (valid) payload."""
    assert record.payload is not None
    spec = get_stream(record.stream)
    flaw = pick(rng, _FLAW_NAMES)
    value = FLAWS[flaw](spec, record.payload, rng)
    return Record(record.stream, value=value, key=_key(spec, record.payload), flaw=flaw)


# --- the traffic ----------------------------------------------------------------------------


def selected_streams(streams: Sequence[str] | None) -> tuple[str, ...]:
    """Stream names in table order; all of them when `streams` is empty (KeyError if unknown)."""
    wanted = {get_stream(name).name for name in streams or ()}
    return tuple(s.name for s in STREAMS if not wanted or s.name in wanted)


class Traffic:
    """An endless, ordered, referentially consistent sequence of records for some streams.

    The whole publisher is simulated whatever the selection, so records of the selected streams
    stay consistent (a session's counters count user events that were not selected too).
    Invalid records are inserted between valid ones, never in their place.
    """

    def __init__(
        self,
        world: World,
        rng: random.Random,
        clock: Clock,
        streams: Sequence[str] | None = None,
        invalid_ratio: float = 0.0,
        flaw_rng: random.Random | None = None,
    ) -> None:
        self.streams = selected_streams(streams)
        self.invalid_ratio = invalid_ratio
        self._selected = frozenset(self.streams)
        self._flaw_rng = flaw_rng or random.Random(rng.getrandbits(64))
        self._clock = clock
        self._sim = Sim(world, rng, clock.tick())
        self._pending: deque[Record] = deque()
        activities = [a for a in _activities(self._sim) if a.streams & self._selected]
        self._activities = Weighted((a, a.weight) for a in activities)

    @classmethod
    def create(
        cls,
        *,
        seed: int | None = None,
        streams: Sequence[str] | None = None,
        invalid_ratio: float = 0.0,
    ) -> Traffic:
        """Seeded: the same records, ids and timestamps on every run; else live wall-clock time."""
        rng = random.Random(seed)
        flaw_rng = random.Random(rng.getrandbits(64))
        clock: Clock = SimulatedClock(rng) if seed is not None else WallClock()
        return cls(World.build(rng), rng, clock, streams, invalid_ratio, flaw_rng)

    def __iter__(self) -> Iterator[Record]:
        held: deque[Record] = deque()  # valid records drawn to model invalid ones, sent later
        rng, ratio = self._flaw_rng, self.invalid_ratio
        while True:
            if ratio and rng.random() < ratio:
                if len(held) < _HOLD_MAX:
                    held.append(self._next_valid())
                    model = held[-1]
                else:
                    model = held[rng.randrange(len(held))]
                yield spoil(model, rng)
            else:
                yield held.popleft() if held else self._next_valid()

    def _next_valid(self) -> Record:
        pending = self._pending
        while not pending:
            self._sim.now = self._clock.tick()
            activity = self._activities.pick(self._sim.rng)
            for stream, payload in activity.step():
                if stream in self._selected:
                    pending.append(Record(stream, payload))
        return pending.popleft()


def _activities(sim: Sim) -> list[Activity]:
    newsroom = Newsroom(sim)
    return [
        Readers(sim, newsroom),
        Engagement(sim, newsroom),
        newsroom,
        Intranet(sim),
        Security(sim),
        Compliance(sim),
        Audit(sim, newsroom),
        Quality(sim),
        Predictions(sim, newsroom),
    ]


# --- the run loop ---------------------------------------------------------------------------


@dataclass(slots=True)
class StreamCounts:
    """Records of one stream delivered to Kafka."""

    valid: int = 0
    invalid: int = 0

    @property
    def total(self) -> int:
        return self.valid + self.invalid


@dataclass(slots=True)
class GenerateStats:
    """Records delivered per stream (valid and invalid), and how long it took."""

    streams: dict[str, StreamCounts]
    elapsed: float = 0.0

    @property
    def valid(self) -> int:
        return sum(c.valid for c in self.streams.values())

    @property
    def invalid(self) -> int:
        return sum(c.invalid for c in self.streams.values())

    @property
    def total(self) -> int:
        return self.valid + self.invalid

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.total / self.elapsed if self.elapsed > 0 else 0.0


def check_options(
    *,
    count: int | None,
    duration: float | None,
    rate: float | None,
    invalid_ratio: float,
) -> None:
    """Raise ValueError naming the first bad option."""
    if count is not None and duration is not None:
        raise ValueError("give either count or duration, not both")
    if count is not None and count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    if duration is not None and not duration > 0:
        raise ValueError(f"duration must be more than 0 seconds, got {duration}")
    if rate is not None and not rate > 0:
        raise ValueError(f"rate must be more than 0 events/s, got {rate}")
    if not 0 <= invalid_ratio <= 1:
        raise ValueError(f"invalid_ratio must be between 0 and 1, got {invalid_ratio}")


def batching(config: KafkaConfig) -> dict[str, Any]:
    """Producer overrides: demo traffic wants throughput, so batches of at least LINGER_MS."""
    return {"linger.ms": max(config.linger_ms, LINGER_MS)}


class _RawSender:
    """A plain producer for records that must reach the topic without validation."""

    def __init__(self, config: KafkaConfig, settings: dict[str, Any]) -> None:
        self.config = config
        self.settings = settings
        self.headers: Headers = [(PRODUCER, f"{config.client_id}/generate-invalid".encode())]
        self._client: Producer | None = None
        self._failures: list[DeliveryFailure] = []
        self._unpolled = 0

    def send(self, topic: str, value: bytes, key: str | None) -> None:
        if self._client is None:
            self._client = Producer(with_logging(self.config.producer_config() | self.settings))
        while True:
            try:
                self._client.produce(
                    topic, value, key, headers=self.headers, on_delivery=self._report
                )
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                self._client.poll(0.05)
        self._unpolled += 1
        if self._unpolled >= 1_000:
            self._client.poll(0)
            self._unpolled = 0

    def _report(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            key = message.key()
            self._failures.append(
                DeliveryFailure(
                    message.topic() or "?",
                    key.decode(errors="replace") if key else None,
                    error.str(),
                )
            )

    def close(self) -> None:
        self.flush()
        self._client = None

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every record; raise DeliveryError for each one not delivered."""
        if self._client is None:
            return
        limit = timeout if timeout is not None else self.config.delivery_timeout_ms / 1000 + 5
        remaining = self._client.flush(limit)
        failures, self._failures = self._failures, []
        if remaining:
            raise DeliveryError(failures, f"{remaining} record(s) undelivered after {limit:.1f} s")
        if failures:
            raise DeliveryError(failures)


class _Senders:
    """The validated producer of each selected stream, and the raw sender for invalid records."""

    def __init__(self, config: KafkaConfig, streams: Sequence[str]) -> None:
        named = {cls.stream.name: cls for cls in PRODUCERS if cls.stream is not None}
        settings = batching(config)
        self.producers: dict[str, BaseKafkaProducer[Any]] = {
            name: named[name](config, **settings) for name in streams
        }
        self.topics = {name: config.topic_name(get_stream(name).topic) for name in streams}
        self.raw = _RawSender(config, settings)

    def send(self, record: Record) -> None:
        if record.payload is not None:
            self.producers[record.stream].publish(record.payload)
        else:
            assert record.value is not None
            self.raw.send(self.topics[record.stream], record.value, record.key)

    def flush(self, timeout: float | None = None) -> None:
        for producer in self.producers.values():
            producer.flush(timeout)
        self.raw.flush(timeout)

    def close(self) -> None:
        """Release the clients (after a successful flush there is nothing left to wait for)."""
        for producer in self.producers.values():
            producer.close()
        self.raw.close()

    def abandon(self) -> None:
        """After an error: a short last flush, logging (not raising) what was not delivered."""
        try:
            self.flush(timeout=5)
        except DeliveryError as error:
            log.error("while stopping on an error: %s", error)


@dataclass(slots=True)
class _Schedule:
    """When the next record is due (at `rate`) and when the run is over (`duration`)."""

    rate: float | None
    duration: float | None
    start: float = field(default_factory=time.monotonic)
    sent: int = 0

    def wait_turn(self, stop: threading.Event) -> bool:
        """Sleep until the next record is due; False when the run is over."""
        now = time.monotonic()
        due = self.start + self.sent / self.rate if self.rate else now
        if self.duration is not None and max(now, due) >= self.start + self.duration:
            return False
        if due > now and stop.wait(due - now):
            return False
        self.sent += 1
        return True


@dataclass(slots=True)
class _Pump:
    """Sends records; every FLUSH_SECONDS it flushes, then counts them as delivered."""

    senders: _Senders
    stats: GenerateStats
    progress: Callable[[GenerateStats], None] | None
    start: float = field(default_factory=time.monotonic)
    last_flush: float = field(default_factory=time.monotonic)
    unflushed: int = 0
    pending: dict[str, StreamCounts] = field(default_factory=dict)

    def send(self, record: Record) -> None:
        self.senders.send(record)
        counts = self.pending.get(record.stream) or self.pending.setdefault(
            record.stream, StreamCounts()
        )
        if record.payload is not None:
            counts.valid += 1
        else:
            counts.invalid += 1
        self.unflushed += 1
        if self.unflushed >= FLUSH_EVERY or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.senders.flush()
        for stream, counts in self.pending.items():
            self.stats.streams[stream].valid += counts.valid
            self.stats.streams[stream].invalid += counts.invalid
        self.pending.clear()
        self.unflushed = 0
        self.last_flush = time.monotonic()
        self.stats.elapsed = self.last_flush - self.start
        if self.progress is not None:
            self.progress(self.stats)


def generate(
    config: KafkaConfig,
    *,
    count: int | None = None,
    duration: float | None = None,
    rate: float | None = None,
    seed: int | None = None,
    invalid_ratio: float = 0.0,
    streams: Sequence[str] | None = None,
    progress: Callable[[GenerateStats], None] | None = None,
    stop: threading.Event | None = None,
) -> GenerateStats:
    """Send demo traffic until `count` records, `duration` seconds or `stop`; flushed on return.

    Valid events go through the stream's validated producer, invalid records (a share
    `invalid_ratio`) through a plain producer; undelivered records raise DeliveryError.
    """
    check_options(count=count, duration=duration, rate=rate, invalid_ratio=invalid_ratio)
    traffic = Traffic.create(seed=seed, streams=streams, invalid_ratio=invalid_ratio)
    stats = GenerateStats({name: StreamCounts() for name in traffic.streams})
    senders = _Senders(config, traffic.streams)
    pump = _Pump(senders, stats, progress)
    schedule = _Schedule(rate, duration)
    stop = stop or threading.Event()
    records = iter(traffic) if count is None else itertools.islice(traffic, count)
    try:
        for record in records:
            if stop.is_set() or not schedule.wait_turn(stop):
                break
            pump.send(record)
        pump.flush()
    except BaseException:
        senders.abandon()
        raise
    senders.close()
    return stats
