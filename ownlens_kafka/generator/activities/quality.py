"""Daily data quality checks of every table."""

from __future__ import annotations

from collections import deque
from datetime import date, timedelta

from ownlens_kafka.generator.sim import Activity, Emitted, Payload, Sim, between
from ownlens_kafka.generator.world import Company
from ownlens_kafka.streams import STREAMS

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
