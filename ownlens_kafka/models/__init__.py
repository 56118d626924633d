"""Pydantic models of the OwnLens events, one per Kafka stream."""

from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models.audit import AuditLogCreate
from ownlens_kafka.models.company import InternalContentCreate
from ownlens_kafka.models.compliance import ComplianceEventCreate
from ownlens_kafka.models.customer import SessionCreate, UserEventCreate
from ownlens_kafka.models.data_quality import QualityMetricCreate
from ownlens_kafka.models.editorial import ArticleCreate, ContentEventCreate
from ownlens_kafka.models.ml_models import ModelPredictionCreate
from ownlens_kafka.models.security import SecurityEventCreate

__all__ = [
    "ArticleCreate",
    "AuditLogCreate",
    "ComplianceEventCreate",
    "ContentEventCreate",
    "EventModel",
    "InternalContentCreate",
    "ModelPredictionCreate",
    "QualityMetricCreate",
    "SecurityEventCreate",
    "SessionCreate",
    "UserEventCreate",
]
