"""The ten named producers: one line each, everything comes from the stream table."""

from typing import Any

from ownlens_kafka import models as m
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import get_stream


class UserEventProducer(BaseKafkaProducer[m.UserEventCreate]):
    stream = get_stream("user_events")


class SessionProducer(BaseKafkaProducer[m.SessionCreate]):
    stream = get_stream("sessions")


class ContentEventProducer(BaseKafkaProducer[m.ContentEventCreate]):
    stream = get_stream("content_events")


class ArticleProducer(BaseKafkaProducer[m.ArticleCreate]):
    stream = get_stream("articles")


class InternalContentProducer(BaseKafkaProducer[m.InternalContentCreate]):
    stream = get_stream("internal_content")


class SecurityEventProducer(BaseKafkaProducer[m.SecurityEventCreate]):
    stream = get_stream("security_events")


class ComplianceEventProducer(BaseKafkaProducer[m.ComplianceEventCreate]):
    stream = get_stream("compliance_events")


class AuditLogProducer(BaseKafkaProducer[m.AuditLogCreate]):
    stream = get_stream("audit_logs")


class QualityMetricProducer(BaseKafkaProducer[m.QualityMetricCreate]):
    stream = get_stream("quality_metrics")


class ModelPredictionProducer(BaseKafkaProducer[m.ModelPredictionCreate]):
    stream = get_stream("model_predictions")


PRODUCERS: tuple[type[BaseKafkaProducer[Any]], ...] = (
    UserEventProducer,
    SessionProducer,
    ContentEventProducer,
    ArticleProducer,
    InternalContentProducer,
    SecurityEventProducer,
    ComplianceEventProducer,
    AuditLogProducer,
    QualityMetricProducer,
    ModelPredictionProducer,
)
