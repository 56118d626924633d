"""How a fetch gathers a batch: what is queued at once, and with a linger what arrives within
it, never more than asked for."""

from __future__ import annotations

import time
from typing import Any

from ownlens_kafka import KafkaConfig, UserEventConsumer


class Trickle:
    """A client whose records arrive `per_call` at a time, each call after `every` seconds."""

    def __init__(self, total: int, per_call: int, every: float) -> None:
        self.left, self.per_call, self.every = total, per_call, every
        self.calls = 0

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        self.calls += 1
        if self.calls > 1 and timeout < self.every:  # nothing new arrives this fast
            time.sleep(timeout)
            return []
        time.sleep(self.every if self.calls > 1 else 0)
        taken = min(self.per_call, num_messages, self.left)
        self.left -= taken
        return [object()] * taken


def fetch(client: Trickle, max_messages: int, linger: float) -> tuple[int, float]:
    consumer: Any = UserEventConsumer(KafkaConfig())
    consumer._client = client
    started = time.monotonic()
    return len(consumer._fetch(max_messages, 0.5, linger)), time.monotonic() - started


def test_without_linger_a_fetch_takes_what_is_queued() -> None:
    assert fetch(Trickle(total=100, per_call=5, every=0.05), 100, linger=0.0)[0] == 5


def test_with_a_linger_a_fetch_gathers_what_arrives_meanwhile() -> None:
    count, seconds = fetch(Trickle(total=100, per_call=5, every=0.05), 100, linger=0.6)
    assert 10 < count < 100 and 0.5 <= seconds < 1.5


def test_a_full_batch_ends_the_linger() -> None:
    count, seconds = fetch(Trickle(total=100, per_call=5, every=0.05), 20, linger=5.0)
    assert count == 20 and seconds < 2.0
