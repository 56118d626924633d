"""The stream table matches the seed document exactly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ownlens_kafka import CONSUMERS, PRODUCERS, STREAMS, get_stream, models

# (producer, consumer, topic, model, key, group) as the seed lists them
SEED = [
    (
        "UserEventProducer",
        "UserEventConsumer",
        "customer-user-events",
        "UserEventCreate",
        "user_id",
        "user-event-consumer-group",
    ),
    (
        "SessionProducer",
        "SessionConsumer",
        "customer-sessions",
        "SessionCreate",
        "session_id",
        "session-consumer-group",
    ),
    (
        "ContentEventProducer",
        "ContentEventConsumer",
        "editorial-content-events",
        "ContentEventCreate",
        "article_id",
        "content-event-consumer-group",
    ),
    (
        "ArticleProducer",
        "ArticleConsumer",
        "editorial-articles",
        "ArticleCreate",
        "article_id",
        "article-consumer-group",
    ),
    (
        "InternalContentProducer",
        "InternalContentConsumer",
        "company-internal-content-events",
        "InternalContentCreate",
        "content_id",
        "internal-content-consumer-group",
    ),
    (
        "SecurityEventProducer",
        "SecurityEventConsumer",
        "security-events",
        "SecurityEventCreate",
        "event_id",
        "security-event-consumer-group",
    ),
    (
        "ComplianceEventProducer",
        "ComplianceEventConsumer",
        "compliance-events",
        "ComplianceEventCreate",
        "event_id",
        "compliance-event-consumer-group",
    ),
    (
        "AuditLogProducer",
        "AuditLogConsumer",
        "audit-logs",
        "AuditLogCreate",
        "log_id",
        "audit-log-consumer-group",
    ),
    (
        "QualityMetricProducer",
        "QualityMetricConsumer",
        "quality-metrics",
        "QualityMetricCreate",
        "table_name_metric_date",
        "quality-metric-consumer-group",
    ),
    (
        "ModelPredictionProducer",
        "ModelPredictionConsumer",
        "model-predictions",
        "ModelPredictionCreate",
        "prediction_id",
        "model-prediction-consumer-group",
    ),
]
SEED_FILE = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_7cb5bf125697079a.txt"


def test_table_matches_the_seed() -> None:
    actual = [
        (p.__name__, c.__name__, s.topic, s.model.__name__, s.key_label, s.group_id)
        for s, p, c in zip(STREAMS, PRODUCERS, CONSUMERS, strict=True)
    ]
    assert actual == SEED
    assert all(p.stream is c.stream for p, c in zip(PRODUCERS, CONSUMERS, strict=True))
    assert {s.domain for s in STREAMS} == {
        "customer",
        "editorial",
        "company",
        "security",
        "compliance",
        "audit",
        "data_quality",
        "ml_models",
    }
    assert all(s.dlq_topic == f"{s.topic}-dlq" for s in STREAMS)


@pytest.mark.skipif(not SEED_FILE.exists(), reason="seed document not beside the checkout")
def test_seed_document_lists_the_same_streams() -> None:
    text = SEED_FILE.read_text()
    producers = re.findall(
        r"\*\*(\w+Producer)\*\*\n\s+- Topic: `([^`]+)`\n\s+- Model: `(\w+)`"
        r"\n.*\n\s+- Key: `(\w+)`",
        text,
    )
    consumers = re.findall(r"\*\*(\w+Consumer)\*\*\n.*\n\s+- Group ID: `([^`]+)`", text)
    assert [(p, t, m, k) for p, _, t, m, k, _ in SEED] == producers
    assert [(c, g) for _, c, _, _, _, g in SEED] == consumers


def test_every_key_field_exists_on_its_model() -> None:
    for spec in STREAMS:
        assert set(spec.key_fields) <= set(spec.model.model_fields), spec.name
        assert getattr(models, spec.model.__name__) is spec.model


def test_composite_key_for_quality_metrics() -> None:
    from tests.factories import valid_payload

    spec = get_stream("quality_metrics")
    event = spec.model.model_validate(
        valid_payload(spec.model, table_name="raw.user_events", metric_date="2026-11-28")
    )
    assert spec.key_of(event) == "raw.user_events_2026-11-28"


def test_unknown_stream_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="user_events"):
        get_stream("nope")
