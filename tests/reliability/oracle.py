"""The oracle: what must become of each record, and what did.

pydantic decides (`spec.model.model_validate_json(value)`): an accepted record must be in
`raw.<stream>` exactly once (by `_partition`, `_offset` and its id), a rejected one in the
stream's dead-letter topic exactly once (by the `dlq.source_*` headers), with its bytes (or, cut
to fit, a flagged prefix with the original size and SHA-256). Records are written, and topics
read back, with plain confluent-kafka clients, and the warehouse's Delta tables read with
delta-rs, independent of the code under test.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from deltalake import DeltaTable, QueryBuilder
from deltalake.exceptions import TableNotFoundError
from pydantic import ValidationError

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.streams import StreamSpec, get_stream
from tests.reliability.hostile import Record

Position = tuple[str, int, int]  # topic, partition, offset


@dataclass(frozen=True, slots=True)
class Sent:
    """A record as delivered: where it is, and what pydantic says of it."""

    record: Record
    topic: str
    partition: int
    offset: int
    accepted: bool
    event_id: str | None  # the id pydantic read, when the record names it
    raised: str | None = None  # an exception other than ValidationError from validation

    @property
    def position(self) -> Position:
        return (self.topic, self.partition, self.offset)


def judge(spec: StreamSpec, record: Record) -> tuple[bool, str | None, str | None]:
    """(accepted, id, the type of an exception that is not a ValidationError)."""
    if record.value is None:
        return False, None, None
    try:
        event = spec.model.model_validate_json(record.value)
    except ValidationError:
        return False, None, None
    except Exception as exc:  # a validator raising something else is a finding of its own
        return False, None, type(exc).__name__
    named = f'"{spec.id_field}"'.encode() in record.value
    return True, str(getattr(event, spec.id_field)) if named else None, None


def raw_producer(config: KafkaConfig) -> Producer:
    """A plain confluent-kafka producer: no OwnLens code between the test and the broker."""
    return Producer(
        {
            "bootstrap.servers": config.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "compression.type": "none",
            "allow.auto.create.topics": False,
        }
    )


def produce(config: KafkaConfig, records: Sequence[Record], timeout: float = 120.0) -> list[Sent]:
    """Write each record to its stream's topic; returns them with their positions, judged."""
    producer = raw_producer(config)
    placed: dict[int, tuple[str, int, int]] = {}
    errors: list[str] = []

    def report(index: int) -> Any:
        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                errors.append(f"record {index}: {error.str()}")
            else:
                placed[index] = (
                    cast(str, message.topic()),
                    cast(int, message.partition()),
                    cast(int, message.offset()),
                )

        return on_delivery

    for index, record in enumerate(records):
        topic = config.topic_name(get_stream(record.stream).topic)
        while True:
            try:
                producer.produce(
                    topic,
                    record.value,
                    record.key,
                    headers=list(record.headers),
                    on_delivery=report(index),
                )
                break
            except BufferError:
                producer.poll(0.05)
        if index % 500 == 0:
            producer.poll(0)
    left = producer.flush(timeout)
    assert left == 0 and not errors, f"raw producer: {left} undelivered, {errors[:5]}"
    sent = []
    for index, record in enumerate(records):
        topic, partition, offset = placed[index]
        accepted, event_id, raised = judge(get_stream(record.stream), record)
        sent.append(Sent(record, topic, partition, offset, accepted, event_id, raised))
    return sent


def topic_ids(config: KafkaConfig, topics: Iterable[str]) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": config.bootstrap_servers})
    futures = admin.describe_topics(TopicCollection(list(topics)), request_timeout=10)
    return {topic: str(future.result().topic_id) for topic, future in futures.items()}


def read_all(config: KafkaConfig, topic: str, timeout: float = 60.0) -> list[Message]:
    """Every record of `topic`, from each partition's start to its high watermark."""
    client = Consumer(
        {
            "bootstrap.servers": config.bootstrap_servers,
            "group.id": "reliability-reader",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        partitions = sorted(client.list_topics(topic, timeout=10).topics[topic].partitions)
        client.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        found: list[Message] = []
        next_offset = dict.fromkeys(partitions, 0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in client.consume(1_000, 0.2):
                if message.error() is None:
                    found.append(message)
                    next_offset[cast(int, message.partition())] = cast(int, message.offset()) + 1
            ends = {
                p: client.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1]
                for p in partitions
            }
            if all(end >= 0 and next_offset[p] >= end for p, end in ends.items()):
                return found
        raise AssertionError(f"could not read {topic} to its end within {timeout} s")
    finally:
        client.close()


def committed(config: KafkaConfig, group: str, ends: dict[tuple[str, int], int]) -> dict[Any, int]:
    """The group's committed offset of each partition in `ends` (-1: none)."""
    client = Consumer(
        {"bootstrap.servers": config.bootstrap_servers, "group.id": config.group_name(group)}
    )
    try:
        found = client.committed([TopicPartition(t, p) for t, p in ends], timeout=10)
        return {(tp.topic, tp.partition): tp.offset for tp in found}
    finally:
        client.close()


def header_map(message: Message) -> dict[str, bytes | None]:
    return dict(cast(list[tuple[str, bytes | None]], message.headers() or []))


@dataclass
class Outcome:
    """What became of the records of one or more streams."""

    records: int = 0
    hostile: int = 0
    accepted: int = 0
    rejected: int = 0
    rows: int = 0
    letters: int = 0
    truncated_letters: int = 0
    lost_rows: list[Position] = field(default_factory=list)
    doubled_rows: list[Position] = field(default_factory=list)
    stray_rows: list[str] = field(default_factory=list)  # rows of rejected or unknown records
    lost_letters: list[Position] = field(default_factory=list)
    doubled_letters: list[Position] = field(default_factory=list)
    stray_letters: list[str] = field(default_factory=list)  # letters of accepted/unknown records
    bad_letters: list[str] = field(default_factory=list)  # wrong headers or payload
    blocked: list[str] = field(default_factory=list)  # partitions the group did not get past
    raised: Counter[str] = field(default_factory=Counter)  # validation raising something else
    lost_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def lost(self) -> int:
        return len(self.lost_rows) + len(self.lost_letters)

    @property
    def doubled(self) -> int:
        return len(self.doubled_rows) + len(self.doubled_letters)

    def figures(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "hostile_records": self.hostile,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rows": self.rows,
            "lettered": self.letters,
            "truncated_letters": self.truncated_letters,
            "lost": self.lost,
            "doubled": self.doubled,
            "stray_rows": len(self.stray_rows),
            "stray_letters": len(self.stray_letters),
            "bad_letters": len(self.bad_letters),
            "blocked_partitions": len(self.blocked),
            "validation_raised": dict(self.raised),
            "lost_by_kind": dict(self.lost_kinds),
        }

    def problems(self) -> dict[str, Any]:
        """The first few of each kind of failure, for an assertion message."""
        shown: dict[str, list[Any]] = {
            "lost_rows": self.lost_rows,
            "doubled_rows": self.doubled_rows,
            "stray_rows": self.stray_rows,
            "lost_letters": self.lost_letters,
            "doubled_letters": self.doubled_letters,
            "stray_letters": self.stray_letters,
            "bad_letters": self.bad_letters,
            "blocked": self.blocked,
            "validation_raised": list(self.raised.items()),
        }
        return {name: items[:8] for name, items in shown.items() if items}


def raw_query(warehouse: str | Path, spec: StreamSpec, sql: str) -> list[tuple[Any, ...]]:
    """The rows of `sql` over the Delta table `<warehouse>/raw/<stream>`, registered as `raw`,
    read with delta-rs (not the project's code); none while the table was never created."""
    try:
        table = DeltaTable(f"{warehouse}/raw/{spec.name}")
    except TableNotFoundError:
        return []
    found = pa.table(QueryBuilder().register("raw", table).execute(sql).read_all())
    return list(zip(*(column.to_pylist() for column in found.columns), strict=True))


def rows_of(warehouse: str | Path, spec: StreamSpec) -> list[tuple[str, str | None, int, int, Any]]:
    """(_topic, _topic_id, _partition, _offset, id) of every row of `raw.<stream>`."""
    return cast(
        list[tuple[str, str | None, int, int, Any]],
        raw_query(
            warehouse,
            spec,
            f'SELECT _topic, _topic_id, _partition, _offset, CAST("{spec.id_field}" AS VARCHAR) '
            "FROM raw",
        ),
    )


def check_rows(
    outcome: Outcome,
    sent: Sequence[Sent],
    rows: Sequence[tuple[str, str | None, int, int, Any]],
    topic_id: dict[str, str] | None = None,
) -> None:
    """Every accepted record once in `rows`, and nothing else."""
    by_position = {s.position: s for s in sent}
    seen = Counter((topic, partition, offset) for topic, _, partition, offset, _ in rows)
    outcome.rows += len(rows)
    for topic, found_id, partition, offset, event_id in rows:
        position = (topic, partition, offset)
        record = by_position.get(position)
        if record is None or not record.accepted:
            kind = record.record.kind if record else "unknown"
            outcome.stray_rows.append(f"{position} ({kind})")
        elif record.event_id is not None and str(event_id) != record.event_id:
            outcome.stray_rows.append(f"{position}: id {event_id} != {record.event_id}")
        elif topic_id is not None and found_id != topic_id.get(topic):
            outcome.stray_rows.append(f"{position}: topic id {found_id} != {topic_id.get(topic)}")
    for position, count in seen.items():
        if count > 1:
            outcome.doubled_rows += [position] * (count - 1)
    for record in sent:
        if record.accepted and seen[record.position] == 0:
            outcome.lost_rows.append(record.position)
            outcome.lost_kinds[record.record.kind] += 1


def check_letters(
    outcome: Outcome,
    sent: Sequence[Sent],
    letters: Sequence[Message],
    topic_id: dict[str, str] | None = None,
    limit: int = 1_000_000,
) -> None:
    """Every rejected record lettered once, with its source, reason and bytes; nothing else."""
    by_position = {s.position: s for s in sent}
    seen: Counter[Position] = Counter()
    outcome.letters += len(letters)
    for message in letters:
        headers = header_map(message)

        def text(name: str, headers: dict[str, bytes | None] = headers) -> str | None:
            raw = headers.get(name)
            return raw.decode(errors="replace") if raw is not None else None

        try:
            position = (
                text("dlq.source_topic") or "?",
                int(text("dlq.source_partition") or "-1"),
                int(text("dlq.source_offset") or "-1"),
            )
        except ValueError:
            outcome.bad_letters.append(f"unreadable source headers: {headers.keys()}")
            continue
        seen[position] += 1
        record = by_position.get(position)
        if record is None or record.accepted:
            kind = record.record.kind if record else "unknown"
            outcome.stray_letters.append(f"{position} ({kind}): {text('dlq.error')}")
            continue
        problem = _letter_problem(message, record, text, topic_id, limit)
        if problem:
            outcome.bad_letters.append(f"{position} ({record.record.kind}): {problem}")
        if text("dlq.truncated") == "true":
            outcome.truncated_letters += 1
    for position, count in seen.items():
        if count > 1:
            outcome.doubled_letters += [position] * (count - 1)
    for record in sent:
        if not record.accepted and seen[record.position] == 0:
            outcome.lost_letters.append(record.position)
            outcome.lost_kinds[record.record.kind] += 1


def _letter_problem(
    message: Message,
    record: Sent,
    text: Any,
    topic_id: dict[str, str] | None,
    limit: int,
) -> str | None:
    if not text("dlq.error") or not text("dlq.error_type"):
        return "no reason"
    if text("dlq.attempts") != "1":
        return f"attempts {text('dlq.attempts')}"
    if topic_id is not None and text("dlq.source_topic_id") != topic_id.get(record.topic):
        return f"source topic id {text('dlq.source_topic_id')}"
    original = record.record.value or b""
    value = message.value() or b""
    size = (
        len(value)
        + len(message.key() or b"")
        + sum(len(k) + len(v or b"") for k, v in header_map(message).items())
    )
    if size > limit:
        return f"letter of {size} bytes over the limit"
    if text("dlq.truncated") == "true":
        if text("dlq.original_size") != str(len(original)):
            return f"original size {text('dlq.original_size')} != {len(original)}"
        if text("dlq.sha256") != hashlib.sha256(original).hexdigest():
            return "sha256 differs"
        if not original.startswith(value):
            return "truncated payload is not a prefix of the record"
        return None
    if message.value() != record.record.value:
        return "payload differs from the record"
    if message.key() != record.record.key:
        return "key differs from the record"
    return None


def ends_of(sent: Iterable[Sent]) -> dict[tuple[str, int], int]:
    """The end offset of each partition written to (nothing else writes these topics)."""
    ends: dict[tuple[str, int], int] = {}
    for record in sent:
        where = (record.topic, record.partition)
        ends[where] = max(ends.get(where, 0), record.offset + 1)
    return ends


def check_blocked(outcome: Outcome, config: KafkaConfig, group: str, sent: Sequence[Sent]) -> None:
    """Partitions whose committed offset is short of their end: a stream that stopped there."""
    ends = ends_of(sent)
    found = committed(config, group, ends)
    for (topic, partition), end in sorted(ends.items()):
        offset = found.get((topic, partition), -1)
        if offset < end:
            outcome.blocked.append(f"{topic}[{partition}] committed {offset} of {end}")


def check_stream(
    outcome: Outcome,
    config: KafkaConfig,
    spec: StreamSpec,
    sent: Sequence[Sent],
    rows: Sequence[tuple[str, str | None, int, int, Any]],
    group: str | None = None,
    rows_carry_topic_id: bool = True,
) -> None:
    """Rows, letters and committed offsets of one stream against the records sent to it."""
    mine = [s for s in sent if s.record.stream == spec.name]
    outcome.records += len(mine)
    outcome.hostile += sum(s.record.hostile for s in mine)
    outcome.accepted += sum(s.accepted for s in mine)
    outcome.rejected += sum(not s.accepted for s in mine)
    for record in mine:
        if record.raised:
            outcome.raised[f"{record.record.kind}: {record.raised}"] += 1
    topic = config.topic_name(spec.topic)
    dead = config.topic_name(spec.dlq_topic)
    ids = topic_ids(config, [topic])
    check_rows(outcome, mine, rows, ids if rows_carry_topic_id else None)
    check_letters(outcome, mine, read_all(config, dead), ids)
    check_blocked(outcome, config, group or spec.group_id, mine)


def wait_for_a_free_group(
    config: KafkaConfig, group: str, topic: str, timeout: float = 60.0
) -> float:
    """Join `group` with a throwaway member until it is given every partition of `topic` (the
    members of killed processes have expired), then leave; returns the seconds it took. The
    member commits nothing."""
    started = time.monotonic()
    probe = Consumer(
        {
            "bootstrap.servers": config.bootstrap_servers,
            "group.id": config.group_name(group),
            "group.protocol": "classic",
            "session.timeout.ms": config.session_timeout_ms,
            "heartbeat.interval.ms": config.heartbeat_interval_ms,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        count = len(probe.list_topics(topic, timeout=10).topics[topic].partitions)
        probe.subscribe([topic])
        deadline = started + timeout
        while len(probe.assignment()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"group {group} still held by a dead member after {timeout} s")
            probe.pause(probe.assignment())  # a member that reads nothing
            probe.poll(0.2)
        return time.monotonic() - started
    finally:
        probe.close()
