"""Simulated time for seeded runs, wall-clock time for live ones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

SEEDED_START = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
SIMULATED_STEP_SECONDS = 0.25  # mean simulated time between two activities of a seeded run


class SimulatedClock:
    """Seeded runs: time starts at `start` and moves by random steps, the same on every run."""

    def __init__(self, rng: random.Random, start: datetime = SEEDED_START) -> None:
        self._rng = rng
        self._now = start

    def tick(self) -> datetime:
        step = self._rng.expovariate(1 / SIMULATED_STEP_SECONDS)
        self._now += timedelta(milliseconds=int(step * 1000))
        return self._now


class WallClock:
    """Live runs: the current UTC time, never going backwards."""

    def __init__(self) -> None:
        self._last = datetime.now(UTC)

    def tick(self) -> datetime:
        self._last = max(self._last, datetime.now(UTC))
        return self._last


Clock = SimulatedClock | WallClock
