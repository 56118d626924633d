"""Demo traffic for every stream: a simulated publisher and `ownlens generate`."""

from ownlens_kafka.generator.record import Record
from ownlens_kafka.generator.run import generate
from ownlens_kafka.generator.stats import GenerateStats, StreamCounts
from ownlens_kafka.generator.traffic import Traffic
from ownlens_kafka.generator.world import World

__all__ = ["GenerateStats", "Record", "StreamCounts", "Traffic", "World", "generate"]
