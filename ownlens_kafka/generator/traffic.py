"""Demo traffic: the simulated publisher's activities wired together, as a stream of records."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence

from ownlens_kafka.generator.activities import (
    Audit,
    Compliance,
    Engagement,
    Intranet,
    Newsroom,
    Predictions,
    Quality,
    Readers,
    Security,
)
from ownlens_kafka.generator.activities.sessions import PAGE_LOADS, SESSION_COUNTERS
from ownlens_kafka.generator.clocks import SEEDED_START, Clock, SimulatedClock, WallClock
from ownlens_kafka.generator.invalid import FLAWS, spoil
from ownlens_kafka.generator.record import Record
from ownlens_kafka.generator.sim import Activity, Sim, Weighted
from ownlens_kafka.generator.world import World
from ownlens_kafka.streams import STREAMS, get_stream

__all__ = [
    "FLAWS",
    "PAGE_LOADS",
    "SEEDED_START",
    "SESSION_COUNTERS",
    "Record",
    "Traffic",
    "selected_streams",
]

_HOLD_MAX = 64


def selected_streams(streams: Sequence[str] | None) -> tuple[str, ...]:
    """Stream names in table order; all of them when `streams` is empty (KeyError if unknown)."""
    wanted = {get_stream(name).name for name in streams or ()}
    return tuple(s.name for s in STREAMS if not wanted or s.name in wanted)


class Traffic:
    """An endless, ordered, referentially consistent sequence of records for some streams.

    The whole publisher is simulated whatever the selection, so records of the selected streams
    stay consistent (a session's counters count user events that were not selected too).
    Invalid records are inserted between valid ones, never in their place.
    """

    def __init__(
        self,
        world: World,
        rng: random.Random,
        clock: Clock,
        streams: Sequence[str] | None = None,
        invalid_ratio: float = 0.0,
        flaw_rng: random.Random | None = None,
    ) -> None:
        self.streams = selected_streams(streams)
        self.invalid_ratio = invalid_ratio
        self._selected = frozenset(self.streams)
        self._flaw_rng = flaw_rng or random.Random(rng.getrandbits(64))
        self._clock = clock
        self._sim = Sim(world, rng, clock.tick())
        self._pending: deque[Record] = deque()
        activities = [a for a in _activities(self._sim) if a.streams & self._selected]
        self._activities = Weighted((a, a.weight) for a in activities)

    @classmethod
    def create(
        cls,
        *,
        seed: int | None = None,
        streams: Sequence[str] | None = None,
        invalid_ratio: float = 0.0,
    ) -> Traffic:
        """Seeded: the same records, ids and timestamps on every run; else live wall-clock time."""
        rng = random.Random(seed)
        flaw_rng = random.Random(rng.getrandbits(64))
        clock: Clock = SimulatedClock(rng) if seed is not None else WallClock()
        return cls(World.build(rng), rng, clock, streams, invalid_ratio, flaw_rng)

    def __iter__(self) -> Iterator[Record]:
        held: deque[Record] = deque()  # valid records drawn to model invalid ones, sent later
        rng, ratio = self._flaw_rng, self.invalid_ratio
        while True:
            if ratio and rng.random() < ratio:
                if len(held) < _HOLD_MAX:
                    held.append(self._next_valid())
                    model = held[-1]
                else:
                    model = held[rng.randrange(len(held))]
                yield spoil(model, rng)
            else:
                yield held.popleft() if held else self._next_valid()

    def _next_valid(self) -> Record:
        pending = self._pending
        while not pending:
            self._sim.now = self._clock.tick()
            activity = self._activities.pick(self._sim.rng)
            for stream, payload in activity.step():
                if stream in self._selected:
                    pending.append(Record(stream, payload))
        return pending.popleft()


def _activities(sim: Sim) -> list[Activity]:
    newsroom = Newsroom(sim)
    return [
        Readers(sim, newsroom),
        Engagement(sim, newsroom),
        newsroom,
        Intranet(sim),
        Security(sim),
        Compliance(sim),
        Audit(sim, newsroom),
        Quality(sim),
        Predictions(sim, newsroom),
    ]
