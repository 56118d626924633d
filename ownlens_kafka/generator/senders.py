"""The Kafka producers a run sends through: validated per stream, raw for invalid records."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.envelope import PRODUCER, Headers
from ownlens_kafka.errors import DeliveryError, DeliveryFailure
from ownlens_kafka.generator.record import Record
from ownlens_kafka.logs import log, with_logging
from ownlens_kafka.producer import BaseKafkaProducer, enqueue
from ownlens_kafka.producers import PRODUCERS
from ownlens_kafka.streams import get_stream

# Fewer, bigger batches: far less broker and client CPU per event. The embedded broker stores
# each produced batch as one object and lists them all on every fetch, so its CPU grows with
# the batches it holds: at 1,000 events/s, 44-67 % of a core after 5 minutes with 20 ms,
# a flat 13-17 % with 500 ms (produce-to-consume p50 +0.2 s).
LINGER_MS = 500
_WAIT_SLICE_SECONDS = 0.1  # a stop request is noticed this fast while waiting for the broker


def batching(config: KafkaConfig) -> dict[str, Any]:
    """Producer overrides: demo traffic wants throughput, so batches of at least LINGER_MS."""
    return {"linger.ms": max(config.linger_ms, LINGER_MS)}


class _RawSender:
    """A plain producer for records that must reach the topic without validation."""

    def __init__(self, config: KafkaConfig, settings: dict[str, Any]) -> None:
        self.config = config
        self.settings = settings
        self.headers: Headers = [(PRODUCER, f"{config.client_id}/generate-invalid".encode())]
        self._client: Producer | None = None
        self._failures: list[DeliveryFailure] = []
        self._unpolled = 0

    def send(self, topic: str, value: bytes, key: str | None) -> None:
        if self._client is None:
            self._client = Producer(with_logging(self.config.producer_config() | self.settings))
        enqueue(self._client, topic, value, key, self.headers, self._report)
        self._unpolled += 1
        if self._unpolled >= 1_000:
            self._client.poll(0)
            self._unpolled = 0

    def _report(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(DeliveryFailure.of(error, message))

    def close(self) -> None:
        self.flush()
        self._client = None

    @property
    def client(self) -> Producer | None:
        """The client, once a record was sent."""
        return self._client

    def drop(self) -> None:
        """Release the client without waiting (what it still holds is lost)."""
        self._client = None

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every record; raise DeliveryError for each one not delivered."""
        if self._client is None:
            return
        limit = timeout if timeout is not None else self.config.delivery_timeout_ms / 1000 + 5
        remaining = self._client.flush(limit)
        failures, self._failures = self._failures, []
        if remaining:
            raise DeliveryError(failures, f"{remaining} record(s) undelivered after {limit:.1f} s")
        if failures:
            raise DeliveryError(failures)


class Senders:
    """The validated producer of each selected stream, and the raw sender for invalid records."""

    def __init__(self, config: KafkaConfig, streams: Sequence[str]) -> None:
        named = {cls.stream.name: cls for cls in PRODUCERS if cls.stream is not None}
        settings = batching(config)
        self.producers: dict[str, BaseKafkaProducer[Any]] = {
            name: named[name](config, **settings) for name in streams
        }
        self.topics = {name: config.topic_name(get_stream(name).topic) for name in streams}
        self.raw = _RawSender(config, settings)
        self._used: set[str] = set()  # streams whose producer has a client

    def send(self, record: Record) -> None:
        if record.payload is not None:
            self._used.add(record.stream)
            self.producers[record.stream].publish(record.payload)
        else:
            assert record.value is not None
            self.raw.send(self.topics[record.stream], record.value, record.key)

    def flush(self, timeout: float | None = None) -> None:
        for producer in self.producers.values():
            producer.flush(timeout)
        self.raw.flush(timeout)

    def _clients(self) -> list[Producer]:
        clients = [self.producers[name].client for name in self._used]
        return clients if self.raw.client is None else [*clients, self.raw.client]

    def wait(self, stop: threading.Event | None = None, deadline: float | None = None) -> int:
        """Serve delivery reports until every record is acknowledged, `stop` is set or the
        `deadline` (monotonic) passes; returns how many records are still unacknowledged."""

        def over() -> bool:
            late = deadline is not None and time.monotonic() >= deadline
            return late or (stop is not None and stop.is_set())

        while True:
            busy = [client for client in self._clients() if len(client)]
            if not busy or over():
                return sum(len(client) for client in busy)
            for client in busy:
                left = _WAIT_SLICE_SECONDS if deadline is None else deadline - time.monotonic()
                client.flush(max(min(left, _WAIT_SLICE_SECONDS), 0))
                if over():
                    break

    def drop(self) -> None:
        """Release every client without waiting: what is still unacknowledged is lost."""
        for producer in self.producers.values():
            with contextlib.suppress(DeliveryError):
                producer.close(timeout=0)
        self.raw.drop()

    def close(self) -> None:
        """Release the clients (after a successful flush there is nothing left to wait for)."""
        for producer in self.producers.values():
            producer.close()
        self.raw.close()

    def abandon(self) -> None:
        """After an error: a short last flush, logging (not raising) what was not delivered."""
        try:
            self.flush(timeout=5)
        except DeliveryError as error:
            log.error("while stopping on an error: %s", error)
