"""Editorial engagement: readers viewing, liking, sharing and commenting on articles."""

from __future__ import annotations

from ownlens_kafka.generator.activities.newsroom import Newsroom
from ownlens_kafka.generator.activities.readers import REFERRERS
from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Sim, Weighted, between, pick

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
        referrer, referrer_type = pick(rng, REFERRERS)
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
