"""The newsroom: articles published and updated."""

from __future__ import annotations

from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Weighted, between, pick, slug
from ownlens_kafka.generator.world import Article, Brand

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
        path = f"/{category.slug}/{slug(title)}-{number}"
        kind = "opinion" if category.slug == "opinion" else _ARTICLE_TYPES.pick(rng)
        author = pick(rng, brand.authors)
        others = [a for a in brand.authors if a is not author]
        secondary = pick(rng, [c for c in brand.categories if c is not category])
        words = between(rng, 250, 2_400)
        tags = [category.slug, slug(topic)]
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
