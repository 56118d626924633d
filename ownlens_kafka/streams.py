"""The stream table: one declaration per stream, everything else is derived from it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ownlens_kafka.models import (
    ArticleCreate,
    AuditLogCreate,
    ComplianceEventCreate,
    ContentEventCreate,
    EventModel,
    InternalContentCreate,
    ModelPredictionCreate,
    QualityMetricCreate,
    SecurityEventCreate,
    SessionCreate,
    UserEventCreate,
)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One event stream: where it lives in Kafka and what it carries."""

    name: str
    domain: str
    topic: str
    model: type[EventModel]
    key_fields: tuple[str, ...]
    group_id: str
    partitions: int = 3
    description: str = ""

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}-dlq"

    @property
    def key_label(self) -> str:
        """The key as the seed names it (`user_id`, `table_name_metric_date`)."""
        return "_".join(self.key_fields)

    def key_of(self, event: EventModel) -> str:
        """The Kafka key of an event: its key field, or the fields joined by `_`."""
        return "_".join(str(getattr(event, field)) for field in self.key_fields)


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "user_events",
        "customer",
        "customer-user-events",
        UserEventCreate,
        ("user_id",),
        "user-event-consumer-group",
        description="Reader interactions: views, clicks, plays, sign-ups.",
    ),
    StreamSpec(
        "sessions",
        "customer",
        "customer-sessions",
        SessionCreate,
        ("session_id",),
        "session-consumer-group",
        description="Reader sessions with their engagement counters.",
    ),
    StreamSpec(
        "content_events",
        "editorial",
        "editorial-content-events",
        ContentEventCreate,
        ("article_id",),
        "content-event-consumer-group",
        description="Engagement with articles: views, shares, comments, likes.",
    ),
    StreamSpec(
        "articles",
        "editorial",
        "editorial-articles",
        ArticleCreate,
        ("article_id",),
        "article-consumer-group",
        description="Articles as published and updated by the newsroom.",
    ),
    StreamSpec(
        "internal_content",
        "company",
        "company-internal-content-events",
        InternalContentCreate,
        ("content_id",),
        "internal-content-consumer-group",
        description="Internal announcements, newsletters and policies.",
    ),
    StreamSpec(
        "security_events",
        "security",
        "security-events",
        SecurityEventCreate,
        ("event_id",),
        "security-event-consumer-group",
        description="Logins, permission changes and suspicious activity.",
    ),
    StreamSpec(
        "compliance_events",
        "compliance",
        "compliance-events",
        ComplianceEventCreate,
        ("event_id",),
        "compliance-event-consumer-group",
        description="GDPR requests, retention and consent changes.",
    ),
    StreamSpec(
        "audit_logs",
        "audit",
        "audit-logs",
        AuditLogCreate,
        ("log_id",),
        "audit-log-consumer-group",
        description="Every read, write and export against platform resources.",
    ),
    StreamSpec(
        "quality_metrics",
        "data_quality",
        "quality-metrics",
        QualityMetricCreate,
        ("table_name", "metric_date"),
        "quality-metric-consumer-group",
        description="Data-quality measurements per table and day.",
    ),
    StreamSpec(
        "model_predictions",
        "ml_models",
        "model-predictions",
        ModelPredictionCreate,
        ("prediction_id",),
        "model-prediction-consumer-group",
        description="ML model predictions and, later, their observed actuals.",
    ),
)

_BY_NAME = {spec.name: spec for spec in STREAMS}


def get_stream(name: str) -> StreamSpec:
    """The stream called `name`; a KeyError lists the known names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(_BY_NAME)
        raise KeyError(f"unknown stream {name!r}; known streams: {known}") from None


def iter_streams(names: list[str] | None = None) -> Iterator[StreamSpec]:
    """The named streams (all of them when `names` is empty)."""
    return iter(STREAMS) if not names else (get_stream(n) for n in names)
