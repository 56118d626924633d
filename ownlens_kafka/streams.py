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
    id_field: str
    group_id: str
    partitions: int = 3
    description: str = ""
    version_field: str | None = None  # set when one entity is sent again as new versions

    @property
    def identity(self) -> tuple[str, ...]:
        """The fields that identify one event: the id, and the version for versioned entities."""
        return (
            (self.id_field,) if self.version_field is None else (self.id_field, self.version_field)
        )

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}-dlq"

    @property
    def key_label(self) -> str:
        """The key as the seed names it (`user_id`, `table_name_metric_date`)."""
        return "_".join(self.key_fields)

    def key_of(self, event: EventModel) -> str:
        """The Kafka key of an event: its key field, or the fields joined by `_`."""
        if len(self.key_fields) == 1:  # the common case, on every message produced
            return str(getattr(event, self.key_fields[0]))
        return "_".join(str(getattr(event, field)) for field in self.key_fields)


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        name="user_events",
        domain="customer",
        topic="customer-user-events",
        model=UserEventCreate,
        key_fields=("user_id",),
        id_field="event_id",
        group_id="user-event-consumer-group",
        description="Reader interactions: views, clicks, plays, sign-ups.",
    ),
    StreamSpec(
        name="sessions",
        domain="customer",
        topic="customer-sessions",
        model=SessionCreate,
        key_fields=("session_id",),
        id_field="session_id",
        group_id="session-consumer-group",
        description="Reader sessions with their engagement counters.",
    ),
    StreamSpec(
        name="content_events",
        domain="editorial",
        topic="editorial-content-events",
        model=ContentEventCreate,
        key_fields=("article_id",),
        id_field="event_id",
        group_id="content-event-consumer-group",
        description="Engagement with articles: views, shares, comments, likes.",
    ),
    StreamSpec(
        name="articles",
        domain="editorial",
        topic="editorial-articles",
        model=ArticleCreate,
        key_fields=("article_id",),
        id_field="article_id",
        version_field="last_updated_time",
        group_id="article-consumer-group",
        description="Articles as published and updated by the newsroom.",
    ),
    StreamSpec(
        name="internal_content",
        domain="company",
        topic="company-internal-content-events",
        model=InternalContentCreate,
        key_fields=("content_id",),
        id_field="content_id",
        group_id="internal-content-consumer-group",
        description="Internal announcements, newsletters and policies.",
    ),
    StreamSpec(
        name="security_events",
        domain="security",
        topic="security-events",
        model=SecurityEventCreate,
        key_fields=("event_id",),
        id_field="event_id",
        group_id="security-event-consumer-group",
        description="Logins, permission changes and suspicious activity.",
    ),
    StreamSpec(
        name="compliance_events",
        domain="compliance",
        topic="compliance-events",
        model=ComplianceEventCreate,
        key_fields=("event_id",),
        id_field="event_id",
        group_id="compliance-event-consumer-group",
        description="GDPR requests, retention and consent changes.",
    ),
    StreamSpec(
        name="audit_logs",
        domain="audit",
        topic="audit-logs",
        model=AuditLogCreate,
        key_fields=("log_id",),
        id_field="log_id",
        group_id="audit-log-consumer-group",
        description="Every read, write and export against platform resources.",
    ),
    StreamSpec(
        name="quality_metrics",
        domain="data_quality",
        topic="quality-metrics",
        model=QualityMetricCreate,
        key_fields=("table_name", "metric_date"),
        id_field="metric_id",
        group_id="quality-metric-consumer-group",
        description="Data-quality measurements per table and day.",
    ),
    StreamSpec(
        name="model_predictions",
        domain="ml_models",
        topic="model-predictions",
        model=ModelPredictionCreate,
        key_fields=("prediction_id",),
        id_field="prediction_id",
        group_id="model-prediction-consumer-group",
        description="ML model predictions and, later, their observed actuals.",
    ),
)

_BY_NAME = {spec.name: spec for spec in STREAMS}
STREAM_NAMES = tuple(_BY_NAME)


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
