"""What a run delivered: record counts per stream, and the time it took."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class StreamCounts:
    """Records of one stream delivered to Kafka."""

    valid: int = 0
    invalid: int = 0

    @property
    def total(self) -> int:
        return self.valid + self.invalid


@dataclass(slots=True)
class GenerateStats:
    """Records delivered per stream (valid and invalid), and how long it took."""

    streams: dict[str, StreamCounts]
    elapsed: float = 0.0
    unconfirmed: int = 0  # sent, but not acknowledged before a stop's deadline (not counted)

    @property
    def valid(self) -> int:
        return sum(c.valid for c in self.streams.values())

    @property
    def invalid(self) -> int:
        return sum(c.invalid for c in self.streams.values())

    @property
    def total(self) -> int:
        return self.valid + self.invalid

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.total / self.elapsed if self.elapsed > 0 else 0.0
