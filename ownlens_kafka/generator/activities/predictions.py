"""ML model predictions and their outcomes."""

from __future__ import annotations

from collections import deque
from uuid import UUID

from ownlens_kafka.generator.activities.newsroom import Newsroom
from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Sim, between, pick
from ownlens_kafka.generator.world import Article, MlModel, User


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
