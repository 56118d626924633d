"""BaseKafkaProducer: validated, idempotent, batched publishing to one stream."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import msgspec
from confluent_kafka import KafkaError, Message, Producer

from ownlens_kafka.client import M, StreamClient
from ownlens_kafka.envelope import PRODUCED_AT, PRODUCER, SCHEMA_VERSION, Headers
from ownlens_kafka.errors import DeliveryError, DeliveryFailure, EventValidationError
from ownlens_kafka.gate import gate_for
from ownlens_kafka.gcpause import paused_gc
from ownlens_kafka.logs import log

_POLL_EVERY = 1_000
_PURGE_WAIT_S = 1.0
_to_json = msgspec.json.Encoder().encode
_from_json = msgspec.json.Decoder().decode


def enqueue(
    client: Producer,
    topic: str,
    value: bytes | None,
    key: str | bytes | None,
    headers: Headers,
    on_delivery: Any,
    partition: int | None = None,
) -> None:
    """`client.produce`, waiting out a full local queue by serving delivery reports."""
    while True:
        try:
            if partition is None:
                client.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
            else:
                client.produce(
                    topic, value, key, partition, headers=headers, on_delivery=on_delivery
                )
            return
        except BufferError:
            client.poll(0.05)


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """An item of a batch that was not delivered: its position, why, and optionally a label
    naming it (a DataFrame's row label, say)."""

    index: int
    reason: str
    label: Hashable | None = None


@dataclass(slots=True)
class BatchResult:
    """What `publish_batch` did: delivered count, failures by index, offsets by partition.
    A retry the broker already had is delivered without an offset, so a range may be short."""

    sent: int = 0
    delivered: int = 0
    failures: list[BatchFailure] = field(default_factory=list)
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)
    _undelivered: list[tuple[str, bytes | None]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.failures

    def on_delivery(self, error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery report of one message of the batch (one callback for all)."""
        if error is not None:
            self._undelivered.append((error.str(), message.value()))
            return
        self.delivered += 1
        partition, offset = cast(tuple[int, int | None], (message.partition(), message.offset()))
        if offset is None:  # a retry the broker already had (idempotence): stored, offset unknown
            return
        span = self.offsets.get(partition)
        if span is None:
            self.offsets[partition] = (offset, offset)
        elif not span[0] <= offset <= span[1]:
            self.offsets[partition] = (min(span[0], offset), max(span[1], offset))

    def settle(self, sent: Sequence[tuple[int, bytes | None]]) -> None:
        """Name each undelivered message by its index in the batch (`sent`: index, value)."""
        if self._undelivered:
            where: dict[bytes | None, list[int]] = {}
            for index, sent_value in reversed(sent):
                where.setdefault(sent_value, []).append(index)
            for reason, value in self._undelivered:
                indexes = where.get(value)
                self.failures.append(BatchFailure(indexes.pop() if indexes else -1, reason))
            self._undelivered = []
        self.failures.sort(key=lambda failure: failure.index)


def _unreadable(event: object, error: Exception) -> str:
    kind = type(error).__name__
    return f"cannot validate a {type(event).__name__} as this stream's event ({kind})"


class BaseKafkaProducer(StreamClient[M]):
    """Validates events against the stream's model and publishes them as JSON.

    librdkafka batches, compresses (snappy), retries and de-duplicates (idempotence, acks=all);
    delivery reports are the only truth: `flush()` raises for every message not delivered.
    """

    def __init__(self, config: Any = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.topic = self.config.topic_name(self.spec.topic)
        self.name = f"{self.config.client_id}/{type(self).__name__}"
        self._client: Producer | None = None
        self._gate = gate_for(self.model)
        self._failures: list[DeliveryFailure] = []
        self._unpolled = 0
        settings = self.config.producer_config() | self.settings
        # room left for headers and the record batch framing
        self._size_limit = int(settings.get("message.max.bytes", 1_000_000)) - 4_096
        self._static_headers: Headers = [
            (PRODUCER, self.name.encode()),
            (SCHEMA_VERSION, str(self.model.schema_version).encode()),
        ]

    @property
    def client(self) -> Producer:
        """The confluent-kafka Producer, created on first use."""
        if self._client is None:
            self._client = Producer(self._client_settings(self.config.producer_config()))
        return self._client

    def headers(self, produced_at: datetime | None = None) -> Headers:
        stamp = (produced_at or datetime.now(UTC)).isoformat().encode()
        return [(PRODUCED_AT, stamp), *self._static_headers]

    def encode(self, event: M) -> bytes:
        return event.__pydantic_serializer__.to_json(event)

    def publish(self, event: M | Mapping[str, Any], key: str | None = None) -> M:
        """Validate and enqueue one event; returns it as the model (ids filled in)."""
        model = self.validate(event)
        self._send(
            self.encode(model),
            key if key is not None else self.spec.key_of(model),
            self.headers(),
            self._on_delivery,
        )
        return model

    def publish_batch(
        self, events: Iterable[M | Mapping[str, Any]], timeout: float | None = None
    ) -> BatchResult:
        """Validate every event first, then send the valid ones and flush once. Items that are
        invalid, too large or not delivered come back by index; nothing is sent when the batch
        itself cannot be read."""
        result = BatchResult()
        with paused_gc():
            ready = self._prepare(events, result)
            headers, report = self.headers(), result.on_delivery
            for _, value, key in ready:
                self._send(value, key, headers, report)
        result.sent = len(ready)
        sent = [(index, value) for index, value, _ in ready]
        try:
            self._flush_client(timeout)
        except DeliveryError as exc:  # what is still queued is dropped: reported, not in doubt
            assert self._client is not None
            self._client.purge(in_queue=True, in_flight=False)
            unconfirmed = self._client.flush(_PURGE_WAIT_S)
            result.settle(sent)
            if not unconfirmed:
                return result
            raise DeliveryError(
                [], f"{exc}; {unconfirmed} of them in flight, outcome unknown", result
            ) from None
        result.settle(sent)
        return result

    def _prepare(
        self, events: Iterable[M | Mapping[str, Any]], result: BatchResult
    ) -> list[tuple[int, bytes, str]]:
        """Each valid event as (index, JSON, key); each bad one as a failure by index."""
        ready = []
        limit = self._size_limit
        for index, event in enumerate(events):
            try:
                value, key = self._encoded(event)
            except EventValidationError as exc:
                result.failures.append(BatchFailure(index, str(exc)))
                continue
            except Exception as exc:  # one item's problem, whatever it is: never the batch's
                result.failures.append(BatchFailure(index, _unreadable(event, exc)))
                continue
            if len(value) + len(key) > limit:
                reason = f"event is {len(value)} bytes, over the message size limit of {limit}"
                result.failures.append(BatchFailure(index, reason))
                continue
            ready.append((index, value, key))
        return ready

    def _encoded(self, event: M | Mapping[str, Any]) -> tuple[bytes, str]:
        """The event's JSON and key. A dict goes through the fast gate (the model's own rules,
        derived) when the gate can judge it, else through pydantic, like a model."""
        if type(event) is dict:
            try:
                raw = _to_json(event)
                # only plain JSON: msgspec writes UUIDs, times, bytes and sets its own way
                value = self._gate(raw) if _from_json(raw) == event else None
            except (TypeError, ValueError, msgspec.MsgspecError):  # not JSON: pydantic judges
                value = None
            names = self.spec.key_fields
            if value is not None and all(name in event for name in names):
                # canonical, so its key fields read as the model's would
                return value, "_".join(str(event[name]) for name in names)
        model = self.validate(event)
        return self.encode(model), self.spec.key_of(model)

    def _send(self, value: bytes, key: str, headers: Headers, callback: Any) -> None:
        client = self.client
        enqueue(client, self.topic, value, key, headers, callback)
        self._unpolled += 1
        if self._unpolled >= _POLL_EVERY:
            client.poll(0)
            self._unpolled = 0

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(DeliveryFailure.of(error, message, self.topic))

    def _flush_client(self, timeout: float | None) -> None:
        if self._client is None:
            return
        # Every message gets a report within delivery.timeout.ms, so that bounds the wait.
        limit = timeout if timeout is not None else self.config.delivery_timeout_ms / 1000 + 5
        remaining = self._client.flush(limit)
        if remaining:
            raise DeliveryError([], f"{remaining} message(s) still undelivered after {limit:.1f} s")

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every enqueued message; raise DeliveryError listing each one not delivered."""
        self._flush_client(timeout)
        failures, self._failures = self._failures, []
        if failures:
            raise DeliveryError(failures)

    def close(self, timeout: float | None = None) -> None:
        """Flush (raising for failures) and release the client."""
        try:
            self.flush(timeout)
        finally:
            self._client = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:  # do not hide the original error behind a delivery error
            try:
                self.close(timeout=5)
            except DeliveryError as error:
                log.error("while handling %s: %s", exc_type.__name__, error)
