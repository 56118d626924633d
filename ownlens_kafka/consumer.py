"""BaseKafkaConsumer: validated, at-least-once consumption of one stream with a dead-letter path."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Generic, NamedTuple, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import ValidationError

from ownlens_kafka.client import M, StreamClient
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.dead_letter import DeadLetterWriter, Rejected
from ownlens_kafka.envelope import EventMetadata, Headers
from ownlens_kafka.errors import describe_validation_error
from ownlens_kafka.gcpause import paused_gc
from ownlens_kafka.lag import PartitionLag, group_lag
from ownlens_kafka.logs import with_logging

log = logging.getLogger(__name__)
TopicPartitionKey = tuple[str, int]
_CHUNK = 1_000


class ConsumedEvent(NamedTuple, Generic[M]):
    """A validated event and where it came from."""

    event: M
    key: str | None
    topic: str
    partition: int
    offset: int
    headers: Headers

    @property
    def metadata(self) -> EventMetadata:
        return EventMetadata.from_headers(self.headers)


@dataclass(slots=True)
class ConsumerStats:
    consumed: int = 0
    dead_lettered: int = 0


def rejection(error: ValidationError) -> tuple[str, str]:
    """(error type, reason) for a record that failed to decode or validate."""
    kinds = {item["type"] for item in error.errors(include_url=False)}
    kind = (
        "DeserializationError"
        if "json_invalid" in kinds or "json_type" in kinds
        else ("ValidationError")
    )
    return kind, describe_validation_error(error)


class BaseKafkaConsumer(StreamClient[M]):
    """Reads a stream in a consumer group, validates each record, and commits only what was handed
    out. Records that fail go, bytes unchanged, to `<topic>-dlq` with the reason."""

    def __init__(
        self,
        config: KafkaConfig | None = None,
        group_id: str | None = None,
        *,
        topics: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self.group_id = group_id or self.spec.group_id
        self.topics = [self.config.topic_name(t) for t in (topics or [self.spec.topic])]
        self.stats = ConsumerStats()
        self.dead_letter_timeout = 30.0
        self._client: Consumer | None = None
        self._pending: dict[TopicPartitionKey, int] = {}
        self.positions: dict[TopicPartitionKey, int] = {}  # next offset per partition handed out
        self._revoked: set[TopicPartitionKey] = set()  # during the current fetch
        self._dead_letters = DeadLetterWriter(self.config, with_logging({}))
        self._commit_on_revoke = False

    @property
    def client(self) -> Consumer:
        """The confluent-kafka Consumer, created and subscribed on first use."""
        if self._client is None:
            client = Consumer(self._client_settings(self.config.consumer_config(self.group_id)))
            client.subscribe(
                self.topics,
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            self._client = client
        return self._client

    def consume_batch(
        self, max_messages: int = 500, timeout: float = 1.0
    ) -> list[ConsumedEvent[M]]:
        """Up to `max_messages` validated events; rejected records go to the dead-letter topic."""
        self._revoked.clear()
        messages = self._fetch(max_messages, timeout)
        if self._revoked:  # fetched before a rebalance took the partition: not ours to hand out
            messages = [m for m in messages if (m.topic(), m.partition()) not in self._revoked]
        if not messages:
            return []
        with paused_gc():
            return self._validate(messages)

    def _validate(self, messages: list[Message]) -> list[ConsumedEvent[M]]:
        validate = self.model.model_validate_json
        items: list[ConsumedEvent[M]] = []
        last: dict[TopicPartitionKey, int] = {}
        rejected: list[tuple[Message, str, str]] = []
        for message in messages:
            error = message.error()
            if error is not None:
                self._client_error(error)
                continue
            topic, partition, offset = cast(
                tuple[str, int, int], (message.topic(), message.partition(), message.offset())
            )
            last[(topic, partition)] = offset
            try:
                event = validate(message.value() or b"")
            except ValidationError as exc:
                rejected.append((message, *rejection(exc)))
                continue
            key = message.key()
            items.append(
                ConsumedEvent(
                    event,
                    key.decode(errors="replace") if key is not None else None,
                    topic,
                    partition,
                    offset,
                    cast(Headers, message.headers() or []),
                )
            )
        if rejected:
            self._dead_letter(rejected, messages)
        advanced = {where: offset + 1 for where, offset in last.items()}
        self._pending.update(advanced)
        self.positions.update(advanced)
        self.stats.consumed += len(items)
        return items

    def _fetch(self, max_messages: int, timeout: float) -> list[Message]:
        """Wait up to `timeout` for a first chunk, then take only what is already queued:
        librdkafka waits for a whole chunk, so asking for a large one at once stalls."""
        client = self.client
        chunk = min(max_messages, _CHUNK)
        messages = client.consume(chunk, timeout)
        while len(messages) < max_messages:
            more = client.consume(min(chunk, max_messages - len(messages)), 0)
            if not more:
                break
            messages += more
        return messages

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        log.warning("consumer %s: %s", self.group_id, error.str())

    def _dead_letter(
        self, rejected: list[tuple[Message, str, str]], messages: list[Message]
    ) -> None:
        try:
            for message, kind, reason in rejected:
                log.warning(
                    "dead-lettering %s[%d]@%d: %s",
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    reason,
                )
                self._dead_letters.send(Rejected.from_message(message), kind, reason)
            self._dead_letters.flush(self.dead_letter_timeout)
        except Exception:
            first: dict[TopicPartitionKey, int] = {}
            for message in messages:
                if message.error() is None:
                    where = cast(TopicPartitionKey, (message.topic(), message.partition()))
                    first.setdefault(where, cast(int, message.offset()))
            for (topic, partition), offset in first.items():  # hand out nothing of this batch
                self.client.seek(TopicPartition(topic, partition, offset))
            raise
        self.stats.dead_lettered += len(rejected)

    def assignment(self) -> set[TopicPartitionKey]:
        """The partitions this member holds now (empty until the group is joined)."""
        return {(tp.topic, tp.partition) for tp in self.client.assignment()}

    def commit(self) -> list[TopicPartition]:
        """Commit the offsets of everything handed out (and dead-lettered) so far."""
        if not self._pending or self._client is None:
            return []
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._pending.items()]
        self._client.commit(offsets=offsets, asynchronous=False)
        self._pending.clear()
        return offsets

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "consumer %s assigned %s",
            self.group_id,
            [(tp.topic, tp.partition) for tp in partitions],
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        if self._commit_on_revoke:
            offsets = [
                TopicPartition(t, p, o) for (t, p), o in self._pending.items() if (t, p) in revoked
            ]
            if offsets:
                try:
                    consumer.commit(offsets=offsets, asynchronous=False)
                except KafkaException as exc:  # raising here would break librdkafka's callback
                    log.warning(
                        "consumer %s could not commit %d revoked partition(s), their records "
                        "will be delivered again: %s",
                        self.group_id,
                        len(offsets),
                        exc,
                    )
        self._forget(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget({(tp.topic, tp.partition) for tp in partitions})

    def _forget(self, partitions: set[TopicPartitionKey]) -> None:
        """Partitions no longer ours: nothing of theirs is committed or handed out by us."""
        self._revoked |= partitions
        for key in partitions:
            self._pending.pop(key, None)
            self.positions.pop(key, None)

    def run(
        self,
        handler: Callable[[Any], object],
        *,
        per_batch: bool = False,
        batch_size: int = 500,
        max_messages: int | None = None,
        max_seconds: float | None = None,
        poll_timeout: float = 1.0,
    ) -> ConsumerStats:
        """Call `handler` per event (or per batch), committing after it returns.

        Stops on SIGINT/SIGTERM, after `max_messages` records or `max_seconds`; commits on
        partition revoke. Returns the counts of this run.
        """
        stop = threading.Event()
        restore = _install_stop_signals(stop)
        start = ConsumerStats(self.stats.consumed, self.stats.dead_lettered)
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self._commit_on_revoke = True
        try:
            while not stop.is_set():
                done = (
                    self.stats.consumed
                    - start.consumed
                    + self.stats.dead_lettered
                    - start.dead_lettered
                )
                if max_messages is not None and done >= max_messages:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                limit = batch_size if max_messages is None else min(batch_size, max_messages - done)
                batch = self.consume_batch(limit, poll_timeout)
                if batch and per_batch:
                    handler(batch)
                else:
                    for item in batch:
                        handler(item)
                self.commit()
        finally:
            self._commit_on_revoke = False
            restore()
        return ConsumerStats(
            self.stats.consumed - start.consumed, self.stats.dead_lettered - start.dead_lettered
        )

    def lag(self, timeout: float = 10.0) -> list[PartitionLag]:
        """Committed offset vs end offset per partition, read without joining the group."""
        return group_lag(self.config, {self.group_id: self.topics}, timeout=timeout)

    def close(self) -> None:
        """Leave the group; offsets not committed are consumed again by the next member."""
        client, self._client = self._client, None
        self._pending.clear()
        try:
            if client is not None:
                client.close()
        finally:
            self._dead_letters.close()


def _install_stop_signals(stop: threading.Event) -> Callable[[], None]:
    """Set `stop` on SIGINT/SIGTERM (main thread only); returns a function restoring handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
