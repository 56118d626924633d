"""The ten named consumers: one line each, everything comes from the stream table."""

from typing import Any

from ownlens_kafka import models as m
from ownlens_kafka.consumer import BaseKafkaConsumer
from ownlens_kafka.streams import get_stream


class UserEventConsumer(BaseKafkaConsumer[m.UserEventCreate]):
    stream = get_stream("user_events")


class SessionConsumer(BaseKafkaConsumer[m.SessionCreate]):
    stream = get_stream("sessions")


class ContentEventConsumer(BaseKafkaConsumer[m.ContentEventCreate]):
    stream = get_stream("content_events")


class ArticleConsumer(BaseKafkaConsumer[m.ArticleCreate]):
    stream = get_stream("articles")


class InternalContentConsumer(BaseKafkaConsumer[m.InternalContentCreate]):
    stream = get_stream("internal_content")


class SecurityEventConsumer(BaseKafkaConsumer[m.SecurityEventCreate]):
    stream = get_stream("security_events")


class ComplianceEventConsumer(BaseKafkaConsumer[m.ComplianceEventCreate]):
    stream = get_stream("compliance_events")


class AuditLogConsumer(BaseKafkaConsumer[m.AuditLogCreate]):
    stream = get_stream("audit_logs")


class QualityMetricConsumer(BaseKafkaConsumer[m.QualityMetricCreate]):
    stream = get_stream("quality_metrics")


class ModelPredictionConsumer(BaseKafkaConsumer[m.ModelPredictionCreate]):
    stream = get_stream("model_predictions")


CONSUMERS: tuple[type[BaseKafkaConsumer[Any]], ...] = (
    UserEventConsumer,
    SessionConsumer,
    ContentEventConsumer,
    ArticleConsumer,
    InternalContentConsumer,
    SecurityEventConsumer,
    ComplianceEventConsumer,
    AuditLogConsumer,
    QualityMetricConsumer,
    ModelPredictionConsumer,
)
