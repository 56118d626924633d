"""What every activity builds on: random picks, the shared simulation state, the base class."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from ownlens_kafka.generator.world import World, new_id

Payload = dict[str, Any]
Emitted = list[tuple[str, Payload]]
T = TypeVar("T")


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """A uniformly random item (`rng.choice`, several times faster)."""
    return items[int(rng.random() * len(items))]


def between(rng: random.Random, low: int, high: int) -> int:
    """A random integer from `low` to `high` inclusive (`rng.randint`, faster)."""
    return low + int(rng.random() * (high - low + 1))


class Weighted(Generic[T]):
    """Items drawn in proportion to integer weights, by one table lookup."""

    __slots__ = ("_table",)

    def __init__(self, pairs: Iterable[tuple[T, int]]) -> None:
        self._table = tuple(item for item, weight in pairs for _ in range(weight))

    def pick(self, rng: random.Random) -> T:
        return self._table[int(rng.random() * len(self._table))]


def slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


@dataclass(eq=False, slots=True)
class Sim:
    """What every activity shares: the world, the random source and the current time."""

    world: World
    rng: random.Random
    now: datetime

    def id(self) -> UUID:
        return new_id(self.rng)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability


class Activity(ABC):
    """One kind of thing happening at the publisher; `step` returns the records it causes."""

    streams: ClassVar[frozenset[str]]
    weight: ClassVar[int]

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    @abstractmethod
    def step(self) -> Emitted: ...
