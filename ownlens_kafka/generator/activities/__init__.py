"""The simulated publisher's activities, one module per domain."""

from ownlens_kafka.generator.activities.audit import Audit
from ownlens_kafka.generator.activities.company import Intranet
from ownlens_kafka.generator.activities.compliance import Compliance
from ownlens_kafka.generator.activities.engagement import Engagement
from ownlens_kafka.generator.activities.newsroom import Newsroom
from ownlens_kafka.generator.activities.predictions import Predictions
from ownlens_kafka.generator.activities.quality import Quality
from ownlens_kafka.generator.activities.readers import Readers
from ownlens_kafka.generator.activities.security import Security

__all__ = [
    "Audit",
    "Compliance",
    "Engagement",
    "Intranet",
    "Newsroom",
    "Predictions",
    "Quality",
    "Readers",
    "Security",
]
