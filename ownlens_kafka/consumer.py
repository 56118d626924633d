"""BaseKafkaConsumer: validated, at-least-once consumption of one stream with a dead-letter path."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Generic, NamedTuple, cast

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from pydantic import ValidationError

from ownlens_kafka.client import M, StreamClient
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.dead_letter import DeadLetterWriter, Letter, Rejected
from ownlens_kafka.envelope import EventMetadata, Headers
from ownlens_kafka.errors import describe_validation_error
from ownlens_kafka.gcpause import paused_gc
from ownlens_kafka.lag import PartitionLag, group_lag
from ownlens_kafka.logs import with_logging
from ownlens_kafka.topics import topic_ids

log = logging.getLogger(__name__)
TopicPartitionKey = tuple[str, int]
Accept = Callable[[Message], object]
# (topic, topic id, partitions) -> the next offset to read per partition, as a sink records it
Resume = Callable[[str, str | None, list[int]], Mapping[int, int]]
_CHUNK = 1_000
# commit refusals meaning this member no longer owns the partitions
_MEMBERSHIP_LOST = frozenset(
    {
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError._ASSIGNMENT_LOST,
    }
)


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


@dataclass(slots=True)
class Ack:
    """What one or more fetches took: the offset range per partition and the dead letters.
    Committing it makes the letters durable first, then the offsets."""

    ranges: dict[TopicPartitionKey, tuple[int, int]] = field(default_factory=dict)
    letters: list[Letter] = field(default_factory=list)
    accepted: int = 0
    topic_ids: dict[str, str | None] = field(default_factory=dict)  # incarnations read

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def merge(self, other: Ack) -> None:
        for where, (first, last) in other.ranges.items():
            known = self.ranges.get(where)
            self.ranges[where] = (first, last) if known is None else (known[0], last)
        self.letters += other.letters
        self.accepted += other.accepted
        self.topic_ids.update(other.topic_ids)

    def drop(self, partitions: set[TopicPartitionKey]) -> None:
        for where in partitions:
            self.ranges.pop(where, None)
        self.letters = [
            letter
            for letter in self.letters
            if (letter.record.topic, letter.record.partition) not in partitions
        ]


def rejection(error: Exception) -> tuple[str, str]:
    """(error type, reason) for a record that failed to decode, validate or convert."""
    try:
        if isinstance(error, ValidationError):
            kinds = {item["type"] for item in error.errors(include_url=False, include_input=False)}
            malformed = "json_invalid" in kinds or "json_type" in kinds
            kind = "DeserializationError" if malformed else "ValidationError"
            return kind, describe_validation_error(error)
    except Exception:  # describing must not fail the record a second time
        pass
    name = type(error).__name__
    return name, f"the record could not be processed ({name})"


class BaseKafkaConsumer(StreamClient[M]):
    """Reads a stream in a consumer group, validates each record, and commits only what was handed
    out. Records that fail go, bytes unchanged, to `<topic>-dlq` with the reason."""

    def __init__(
        self,
        config: KafkaConfig | None = None,
        group_id: str | None = None,
        *,
        topics: Sequence[str] | None = None,
        start: Mapping[TopicPartitionKey, int] | None = None,
        until: Mapping[TopicPartitionKey, int] | None = None,
        resume: Resume | None = None,
        **kwargs: Any,
    ) -> None:
        """`start`: read exactly these partitions from these offsets, without joining the group;
        `until`: hand out nothing at or after these offsets; `resume`: where the sink says each
        assigned partition goes on, used when ahead of the group's committed offset."""
        super().__init__(config, **kwargs)
        self.start = dict(start) if start is not None else None
        self.until = dict(until) if until is not None else None
        self.resume = resume
        self.group_id = group_id or self.spec.group_id
        self.topics = [self.config.topic_name(t) for t in (topics or [self.spec.topic])]
        self.stats = ConsumerStats()
        self.dead_letter_timeout = 30.0
        self.positions: dict[TopicPartitionKey, int] = {}  # next offset per partition handed out
        self.topic_ids: dict[str, str | None] = {}  # the incarnation each topic was read in
        self._client: Consumer | None = None
        self._admin: AdminClient | None = None
        self._pending = Ack()  # handed out by consume_batch, not committed yet
        self._revoked: set[TopicPartitionKey] = set()  # during the current fetch
        # as the rebalance callbacks left it: asking librdkafka waits for its poll to return
        self._held: set[TopicPartitionKey] = set()
        # letters are confirmed before each commit: waiting out a linger gains nothing
        self._dead_letters = DeadLetterWriter(self.config, with_logging({"linger.ms": 0}))
        self._commit_on_revoke = False

    @property
    def client(self) -> Consumer:
        """The confluent-kafka Consumer, created and subscribed on first use."""
        if self._client is None:
            client = Consumer(self._client_settings(self.config.consumer_config(self.group_id)))
            if self.start is not None:
                client.assign([TopicPartition(t, p, o) for (t, p), o in self.start.items()])
                self._held = set(self.start)
            else:
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
        """Up to `max_messages` validated events; rejected records are dead-lettered when the
        batch is committed."""
        validate = self.model.model_validate_json
        items: list[ConsumedEvent[M]] = []

        def accept(message: Message) -> None:
            event = validate(message.value() or b"")
            key = message.key()
            items.append(
                ConsumedEvent(
                    event,
                    key.decode(errors="replace") if key is not None else None,
                    cast(str, message.topic()),
                    cast(int, message.partition()),
                    cast(int, message.offset()),
                    cast(Headers, message.headers() or []),
                )
            )

        self._pending.merge(self.take(max_messages, timeout, accept))
        return items

    def take(
        self,
        max_messages: int,
        timeout: float,
        accept: Accept,
        linger: float = 0.0,
        stop: threading.Event | None = None,
    ) -> Ack:
        """Fetch up to `max_messages` records (waiting up to `timeout` for the first, then up to
        `linger` seconds more for the rest, unless `stop` is set) and hand each to `accept`.
        Whatever it raises for a record makes that record a dead letter of the batch; nothing
        else is affected, and nothing is committed here."""
        self._revoked.clear()
        messages = self._fetch(max_messages, timeout, linger, stop)
        if self._revoked:
            messages = self._of_held_partitions(messages)
        if messages:
            messages = self._of_current_incarnation(messages)
        if self.until is not None and messages:
            messages = self._before_the_end(messages, self.until)
        ack = Ack(topic_ids={topic: self.topic_ids.get(topic) for topic in self.topics})
        if not messages:
            return ack
        ranges, letters = ack.ranges, ack.letters
        taken = 0
        with paused_gc():
            for message in messages:
                error = message.error()
                if error is not None:
                    self._client_error(error)
                    continue
                taken += 1
                where = cast(TopicPartitionKey, (message.topic(), message.partition()))
                offset = cast(int, message.offset())
                span = ranges.get(where)
                ranges[where] = (offset, offset) if span is None else (span[0], offset)
                try:
                    accept(message)
                except Exception as exc:  # one record's problem, whatever it is: never raise
                    letters.append(self._letter(message, exc))
        ack.accepted = taken - len(letters)
        for where, (_, last) in ranges.items():
            self.positions[where] = last + 1
        self.stats.consumed += ack.accepted
        self.stats.dead_lettered += len(letters)
        return ack

    def _of_held_partitions(self, messages: list[Message]) -> list[Message]:
        """A rebalance during the fetch: records of a partition taken away are not ours to hand
        out; a partition given back meanwhile is read again from the earliest of them."""
        held = self.assignment()
        kept: list[Message] = []
        again: dict[TopicPartitionKey, int] = {}
        for message in messages:
            where = cast(TopicPartitionKey, (message.topic(), message.partition()))
            if where not in self._revoked:
                kept.append(message)
            elif where in held:
                offset = cast(int, message.offset())
                again[where] = min(again.get(where, offset), offset)
        for (topic, partition), offset in again.items():
            self.client.seek(TopicPartition(topic, partition, offset))
        return kept

    def _before_the_end(
        self, messages: list[Message], until: dict[TopicPartitionKey, int]
    ) -> list[Message]:
        kept = []
        for message in messages:
            where = cast(TopicPartitionKey, (message.topic(), message.partition()))
            end = until.get(where)
            if end is None or cast(int, message.offset()) < end:
                kept.append(message)
            elif self.positions.get(where, -1) < end:  # reached: fetch nothing more of it
                self.positions[where] = end
                self.client.pause([TopicPartition(*where)])
        return kept

    def _letter(self, message: Message, error: Exception) -> Letter:
        kind, reason = rejection(error)
        record = Rejected.from_message(message)
        return Letter(record, kind, reason, topic_id=self.topic_ids.get(record.topic))

    def _fetch(
        self,
        max_messages: int,
        timeout: float,
        linger: float = 0.0,
        stop: threading.Event | None = None,
    ) -> list[Message]:
        """Wait up to `timeout` for a first chunk, then take what is queued, and what arrives
        within `linger` seconds (until `stop` is set): librdkafka waits for a whole chunk, so
        asking for a large one at once stalls."""
        client = self.client
        chunk = min(max_messages, _CHUNK)
        messages = client.consume(chunk, timeout)
        deadline = time.monotonic() + linger
        while messages and len(messages) < max_messages:
            stopping = stop is not None and stop.is_set()
            wait = 0.0 if stopping else min(max(deadline - time.monotonic(), 0.0), 0.1)
            more = client.consume(min(chunk, max_messages - len(messages)), wait)
            if not more and not wait:
                break
            messages += more
        return messages

    def _of_current_incarnation(self, messages: list[Message]) -> list[Message]:
        """The fetched records, unless a topic was deleted and created again since the last
        fetch: then that topic is read again from the new incarnation's beginning. Asked after
        the fetch, so a record of a new incarnation is never taken for one of the old."""
        try:
            ids = self._topic_ids()
        except KafkaException as exc:  # cannot tell which incarnation: take the batch later
            log.warning(
                "consumer %s: topic ids unavailable, fetching again: %s", self.group_id, exc
            )
            self._rewind(messages)
            return []
        changed = {t for t, new in ids.items() if t in self.topic_ids and self.topic_ids[t] != new}
        self.topic_ids.update(ids)
        if not changed:
            return messages
        for topic in changed:
            log.warning(
                "consumer %s: topic %s was deleted and created again; reading it from the start",
                self.group_id,
                topic,
            )
            held = [
                (tp.topic, tp.partition) for tp in self.client.assignment() if tp.topic == topic
            ]
            for name, partition in held:
                self.client.seek(TopicPartition(name, partition, OFFSET_BEGINNING))
            self._reset(held)
        return [m for m in messages if m.topic() not in changed]

    def _topic_ids(self) -> dict[str, str | None]:
        if self._admin is None:
            self._admin = AdminClient(with_logging(self.config.connection_config()))
        return topic_ids(self._admin, self.topics)

    def _rewind(self, messages: list[Message]) -> None:
        first: dict[TopicPartitionKey, int] = {}
        for message in messages:
            if message.error() is None:
                where = cast(TopicPartitionKey, (message.topic(), message.partition()))
                first.setdefault(where, cast(int, message.offset()))
        for (topic, partition), offset in first.items():
            self.client.seek(TopicPartition(topic, partition, offset))

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        log.warning("consumer %s: %s", self.group_id, error.str())

    def assignment(self) -> set[TopicPartitionKey]:
        """The partitions this member holds now (empty until the group is joined)."""
        return set(self._held)

    def commit(self, ack: Ack | None = None) -> list[TopicPartition]:
        """Make a batch durable (by default everything `consume_batch` handed out): its dead
        letters first, then its offsets. Raises, committing nothing, if a letter failed."""
        pending = ack is None
        ack = self._pending if ack is None else ack
        self.write_letters(ack)
        offsets = self.commit_offsets(ack)
        if pending:
            self._pending = Ack()
        return offsets

    def write_letters(self, ack: Ack, held: set[TopicPartitionKey] | None = None) -> int:
        """Letter the batch's rejected records on the partitions this member still holds, or on
        `held` (each once, even when an earlier attempt crashed after writing them); returns how
        many were written now."""
        if not ack.letters or self._client is None:
            return 0
        held = self.assignment() if held is None else held
        letters = [x for x in ack.letters if (x.record.topic, x.record.partition) in held]
        return self._dead_letters.write(letters, self.dead_letter_timeout) if letters else 0

    def commit_offsets(self, ack: Ack) -> list[TopicPartition]:
        """Commit the end of each range of the batch on the partitions this member still holds,
        of topics still in the incarnation the batch was read from (a group outlives a deleted
        topic: an old offset committed on the new one would skip its first records). A commit
        refused because this member lost its partitions is dropped with a warning: their new
        owner reads the records again."""
        if not ack or self._client is None or self.start is not None:
            return []  # a range read by assignment leaves no trace in any group
        try:
            current = self._still_current(ack)
        except KafkaException as exc:  # cannot tell which incarnation: the next commit covers it
            log.warning("consumer %s: no topic ids, not committing now: %s", self.group_id, exc)
            return []
        offsets = _next_offsets(current, self.assignment())
        if offsets:
            try:
                self._client.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                if exc.args[0].code() not in _MEMBERSHIP_LOST:
                    raise
                log.warning(
                    "consumer %s lost its partitions before committing; their records will be "
                    "delivered again: %s",
                    self.group_id,
                    exc.args[0].str(),
                )
                return []
        return offsets

    def _still_current(self, ack: Ack) -> Ack:
        """The batch without the ranges of topics deleted and created again since it was read."""
        now = self._topic_ids()
        gone = {topic for topic, read in ack.topic_ids.items() if now.get(topic, read) != read}
        if not gone:
            return ack
        log.warning(
            "consumer %s: %s deleted and created again since the batch was read; not "
            "committing its offsets there",
            self.group_id,
            ", ".join(sorted(gone)),
        )
        current = Ack(topic_ids=ack.topic_ids)
        current.merge(ack)
        current.drop({where for where in current.ranges if where[0] in gone})
        return current

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "consumer %s assigned %s",
            self.group_id,
            [(tp.topic, tp.partition) for tp in partitions],
        )
        self._held = self._held | {(tp.topic, tp.partition) for tp in partitions}
        if self.resume is None or not partitions:
            return
        try:  # raising here would break librdkafka's callback
            starts, moved = self._resumed(consumer, partitions)
            if moved:
                consumer.assign(starts)
                # What the sink holds is durable: commit it, or a partition with nothing more
                # to read would show its lag forever.
                consumer.commit(offsets=moved, asynchronous=False)
        except Exception as exc:  # the committed offsets hold: the sink skips what it has
            log.warning("consumer %s: resuming from the sink failed: %s", self.group_id, exc)

    def _resumed(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> tuple[list[TopicPartition], list[TopicPartition]]:
        """The assignment at the sink's offsets where they are ahead of the committed ones, and
        the partitions so moved."""
        assert self.resume is not None
        committed = consumer.committed(partitions, timeout=10.0)
        ids = self._topic_ids()
        wanted: dict[TopicPartitionKey, int] = {}
        for topic in {tp.topic for tp in committed}:
            held = [tp.partition for tp in committed if tp.topic == topic]
            wanted |= {(topic, p): o for p, o in self.resume(topic, ids.get(topic), held).items()}
        moved: list[TopicPartition] = []
        for tp in committed:
            ahead = wanted.get((tp.topic, tp.partition))
            if ahead is not None and ahead > tp.offset:
                log.info(
                    "consumer %s: %s[%d] goes on at %d, written by the sink (committed: %d)",
                    self.group_id,
                    tp.topic,
                    tp.partition,
                    ahead,
                    tp.offset,
                )
                tp.offset = ahead
                moved.append(TopicPartition(tp.topic, tp.partition, ahead))
        return committed, moved

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        ack = Ack()
        ack.merge(self._pending)
        ack.drop(set(ack.ranges) - revoked)
        if self._commit_on_revoke and ack:
            try:  # raising here would break librdkafka's callback
                if ack.letters:
                    self._dead_letters.write(ack.letters, self.dead_letter_timeout)
                offsets = _next_offsets(self._still_current(ack), revoked)
                if offsets:
                    consumer.commit(offsets=offsets, asynchronous=False)
            except Exception as exc:
                log.warning(
                    "consumer %s could not commit %d revoked partition(s), their records "
                    "will be delivered again: %s",
                    self.group_id,
                    len(revoked),
                    exc,
                )
        self._forget(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget({(tp.topic, tp.partition) for tp in partitions})

    def _forget(self, partitions: set[TopicPartitionKey]) -> None:
        """Partitions no longer ours: nothing of theirs is committed or handed out by us."""
        self._held = self._held - partitions
        self._revoked |= partitions
        self._reset(partitions)

    def _reset(self, partitions: Iterable[TopicPartitionKey]) -> None:
        held = set(partitions)
        self._pending.drop(held)
        for key in held:
            self.positions.pop(key, None)
        self._dead_letters.forget(held)

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
        self._pending, self._held = Ack(), set()
        try:
            if client is not None:
                client.close()
        finally:
            self._dead_letters.close()


def _next_offsets(ack: Ack, held: set[TopicPartitionKey]) -> list[TopicPartition]:
    """Where the group resumes after the batch, on the partitions in `held`."""
    return [
        TopicPartition(topic, partition, last + 1)
        for (topic, partition), (_, last) in ack.ranges.items()
        if (topic, partition) in held
    ]


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
