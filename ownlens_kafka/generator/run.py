"""The run loop: demo traffic sent to Kafka at a rate, for a count or a duration."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.errors import DeliveryError
from ownlens_kafka.generator.record import Record
from ownlens_kafka.generator.senders import Senders
from ownlens_kafka.generator.stats import GenerateStats, StreamCounts
from ownlens_kafka.generator.traffic import Traffic

log = logging.getLogger(__name__)
FLUSH_SECONDS = 1.0
FLUSH_EVERY = 100_000
STOP_FLUSH_SECONDS = 2.0  # after a stop request, the most time given to unacknowledged records


def check_options(
    *,
    count: int | None,
    duration: float | None,
    rate: float | None,
    invalid_ratio: float,
) -> None:
    """Raise ValueError naming the first bad option."""
    if count is not None and duration is not None:
        raise ValueError("give either count or duration, not both")
    if count is not None and count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    if duration is not None and not duration > 0:
        raise ValueError(f"duration must be more than 0 seconds, got {duration}")
    if rate is not None and not rate > 0:
        raise ValueError(f"rate must be more than 0 events/s, got {rate}")
    if not 0 <= invalid_ratio <= 1:
        raise ValueError(f"invalid_ratio must be between 0 and 1, got {invalid_ratio}")


@dataclass(slots=True)
class _Schedule:
    """When the next record is due (at `rate`) and when the run is over (`duration`)."""

    rate: float | None
    duration: float | None
    start: float = field(default_factory=time.monotonic)
    sent: int = 0

    def wait_turn(self, stop: threading.Event) -> bool:
        """Sleep until the next record is due; False when the run is over."""
        now = time.monotonic()
        due = self.start + self.sent / self.rate if self.rate else now
        if self.duration is not None and max(now, due) >= self.start + self.duration:
            return False
        if due > now and stop.wait(due - now):
            return False
        self.sent += 1
        return True


@dataclass(slots=True)
class _Pump:
    """Sends records; every FLUSH_SECONDS it flushes, then counts them as delivered."""

    senders: Senders
    stats: GenerateStats
    progress: Callable[[GenerateStats], None] | None
    stop: threading.Event
    start: float = field(default_factory=time.monotonic)
    last_flush: float = field(default_factory=time.monotonic)
    unflushed: int = 0
    pending: dict[str, StreamCounts] = field(default_factory=dict)

    def send(self, record: Record) -> None:
        self.senders.send(record)
        counts = self.pending.get(record.stream) or self.pending.setdefault(
            record.stream, StreamCounts()
        )
        if record.payload is not None:
            counts.valid += 1
        else:
            counts.invalid += 1
        self.unflushed += 1
        if self.unflushed >= FLUSH_EVERY or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Wait for every record (a stop request ends the wait: `settle` counts them), then
        count them as delivered; DeliveryError if any was not."""
        self.last_flush = time.monotonic()
        if self.senders.wait(self.stop):
            return
        self.senders.flush()
        for stream, counts in self.pending.items():
            self.stats.streams[stream].valid += counts.valid
            self.stats.streams[stream].invalid += counts.invalid
        self.pending.clear()
        self.unflushed = 0
        self.last_flush = time.monotonic()
        self.stats.elapsed = self.last_flush - self.start
        if self.progress is not None:
            self.progress(self.stats)

    def settle(self, seconds: float) -> None:
        """After a stop request: count what is acknowledged within `seconds`; the rest is
        dropped and reported as unconfirmed, so a stop never waits on a broker that is gone."""
        remaining = self.senders.wait(deadline=time.monotonic() + seconds)
        if not remaining:
            try:
                self.senders.flush(timeout=0)
            except DeliveryError as error:
                log.warning("while stopping: %s", str(error).splitlines()[0])
            else:
                self.flush()
                return
        self.stats.unconfirmed = sum(c.total for c in self.pending.values())
        self.pending.clear()
        self.senders.drop()
        self.stats.elapsed = time.monotonic() - self.start


def generate(
    config: KafkaConfig,
    *,
    count: int | None = None,
    duration: float | None = None,
    rate: float | None = None,
    seed: int | None = None,
    invalid_ratio: float = 0.0,
    streams: Sequence[str] | None = None,
    progress: Callable[[GenerateStats], None] | None = None,
    stop: threading.Event | None = None,
) -> GenerateStats:
    """Send demo traffic until `count` records, `duration` seconds or `stop`; flushed on return
    (after `stop`, within STOP_FLUSH_SECONDS: what is not acknowledged by then is dropped and
    counted in `unconfirmed`).

    Valid events go through the stream's validated producer, invalid records (a share
    `invalid_ratio`) through a plain producer; undelivered records raise DeliveryError.
    """
    check_options(count=count, duration=duration, rate=rate, invalid_ratio=invalid_ratio)
    traffic = Traffic.create(seed=seed, streams=streams, invalid_ratio=invalid_ratio)
    stats = GenerateStats({name: StreamCounts() for name in traffic.streams})
    senders = Senders(config, traffic.streams)
    stop = stop or threading.Event()
    pump = _Pump(senders, stats, progress, stop)
    schedule = _Schedule(rate, duration)
    records = iter(traffic) if count is None else itertools.islice(traffic, count)
    try:
        for record in records:
            if stop.is_set() or not schedule.wait_turn(stop):
                break
            pump.send(record)
        if stop.is_set():
            pump.settle(STOP_FLUSH_SECONDS)
            return stats
        pump.flush()
    except BaseException:
        senders.abandon()
        raise
    senders.close()
    return stats
