"""Readers browsing in sessions: user events, and a session record when a session ends."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote_plus

from ownlens_kafka.generator.activities.newsroom import Newsroom
from ownlens_kafka.generator.activities.sessions import PAGE_LOADS, OpenSession, Page
from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Sim, Weighted, between, pick

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


_NEEDS_ARTICLE = frozenset({"video_play", "share", "comment"})
_SPECIAL_PAGES = {
    "subscription_prompt": "/subscribe",
    "newsletter_signup": "/newsletters",
}
_SEARCHES = ("election", "weather", "transfer news", "recipes", "house prices", "crossword")
REFERRERS = (
    (None, "direct"),
    ("https://www.google.com/", "search"),
    ("https://news.google.com/", "aggregator"),
    ("https://t.co/", "social"),
    ("https://www.facebook.com/", "social"),
    ("https://mail.example/newsletter", "email"),
)


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
                referrer=pick(rng, REFERRERS)[0],
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
