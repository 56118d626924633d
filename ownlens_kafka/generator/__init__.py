"""Demo traffic for every stream: a simulated publisher and `ownlens generate`."""

from ownlens_kafka.generator.traffic import (
    GenerateStats,
    Record,
    StreamCounts,
    Traffic,
    generate,
)
from ownlens_kafka.generator.world import World

__all__ = ["GenerateStats", "Record", "StreamCounts", "Traffic", "World", "generate"]
