"""OwnLens typed event streams on Kafka: models, config, validated producers and consumers."""

from ownlens_kafka.config import KafkaConfig, get_config, reset_config
from ownlens_kafka.consumer import BaseKafkaConsumer, ConsumedEvent, ConsumerStats
from ownlens_kafka.consumers import (
    CONSUMERS,
    ArticleConsumer,
    AuditLogConsumer,
    ComplianceEventConsumer,
    ContentEventConsumer,
    InternalContentConsumer,
    ModelPredictionConsumer,
    QualityMetricConsumer,
    SecurityEventConsumer,
    SessionConsumer,
    UserEventConsumer,
)
from ownlens_kafka.envelope import EventMetadata
from ownlens_kafka.errors import DeliveryError, DeliveryFailure, EventValidationError
from ownlens_kafka.lag import PartitionLag, group_lag, watermarks
from ownlens_kafka.models import *  # noqa: F403
from ownlens_kafka.models import __all__ as _models
from ownlens_kafka.producer import BaseKafkaProducer, BatchFailure, BatchResult
from ownlens_kafka.producers import (
    PRODUCERS,
    ArticleProducer,
    AuditLogProducer,
    ComplianceEventProducer,
    ContentEventProducer,
    InternalContentProducer,
    ModelPredictionProducer,
    QualityMetricProducer,
    SecurityEventProducer,
    SessionProducer,
    UserEventProducer,
)
from ownlens_kafka.streams import STREAMS, StreamSpec, get_stream, iter_streams
from ownlens_kafka.topics import create_topics, list_topics

__all__ = [
    *_models,
    "CONSUMERS",
    "PRODUCERS",
    "STREAMS",
    "ArticleConsumer",
    "ArticleProducer",
    "AuditLogConsumer",
    "AuditLogProducer",
    "BaseKafkaConsumer",
    "BaseKafkaProducer",
    "BatchFailure",
    "BatchResult",
    "ComplianceEventConsumer",
    "ComplianceEventProducer",
    "ConsumedEvent",
    "ConsumerStats",
    "ContentEventConsumer",
    "ContentEventProducer",
    "DeliveryError",
    "DeliveryFailure",
    "EventMetadata",
    "EventValidationError",
    "InternalContentConsumer",
    "InternalContentProducer",
    "KafkaConfig",
    "ModelPredictionConsumer",
    "ModelPredictionProducer",
    "PartitionLag",
    "QualityMetricConsumer",
    "QualityMetricProducer",
    "SecurityEventConsumer",
    "SecurityEventProducer",
    "SessionConsumer",
    "SessionProducer",
    "StreamSpec",
    "UserEventConsumer",
    "UserEventProducer",
    "create_topics",
    "get_config",
    "get_stream",
    "group_lag",
    "iter_streams",
    "list_topics",
    "reset_config",
    "watermarks",
]
