"""What a consumer does with handed-out offsets when partitions are revoked (pure logic)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ownlens_kafka import KafkaConfig, UserEventConsumer
from ownlens_kafka.consumer import Ack


class FakeClient:
    def __init__(self) -> None:
        self.commits: list[list[tuple[str, int, int]]] = []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])


class HoldingClient(FakeClient):
    """A client holding partitions of `t` (0-2 by default), whose commits may be refused."""

    def __init__(self, refuse: int | None = None, held: list[int] | None = None) -> None:
        super().__init__()
        self.refuse = refuse
        self.held = [0, 1, 2] if held is None else held
        self.seeks: list[tuple[str, int, int]] = []

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("t", p) for p in self.held]

    def seek(self, partition: TopicPartition) -> None:
        self.seeks.append((partition.topic, partition.partition, partition.offset))

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        if self.refuse is not None:
            raise KafkaException(KafkaError(self.refuse))
        super().commit(offsets, asynchronous)


def consumer_with_pending() -> Any:
    """Records up to offsets 9, 19 and 29 of partitions 0-2 handed out, not committed."""
    consumer: Any = UserEventConsumer(KafkaConfig())
    consumer._pending = Ack({("t", 0): (0, 9), ("t", 1): (15, 19), ("t", 2): (29, 29)})
    consumer._topic_ids = lambda: {"t": None}  # no cluster to ask
    consumer._held = {("t", 0), ("t", 1), ("t", 2)}  # as the group's assignment left it
    return consumer


def pending(consumer: Any) -> dict[tuple[str, int], int]:
    """Where the group would resume on each partition with handed-out records."""
    return {where: last + 1 for where, (_, last) in consumer._pending.ranges.items()}


def test_run_commits_what_it_handled_on_the_revoked_partitions() -> None:
    consumer, client = consumer_with_pending(), FakeClient()
    consumer._commit_on_revoke = True  # as inside run(): everything handed out was handled
    consumer._on_revoke(client, [TopicPartition("t", 0), TopicPartition("t", 2)])
    assert client.commits == [[("t", 0, 10), ("t", 2, 30)]]
    assert pending(consumer) == {("t", 1): 20}


class UnreachableCoordinator:
    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))


def test_a_commit_that_fails_on_revoke_is_logged_and_the_partitions_still_let_go(caplog) -> None:
    consumer = consumer_with_pending()
    consumer._commit_on_revoke = True
    with caplog.at_level(logging.WARNING, logger="ownlens_kafka.consumer"):
        consumer._on_revoke(UnreachableCoordinator(), [TopicPartition("t", 0)])  # no raise
    assert pending(consumer) == {("t", 1): 20, ("t", 2): 30}
    assert "will be delivered again" in caplog.text


def test_outside_run_revoked_offsets_are_dropped_not_committed() -> None:
    consumer, client = consumer_with_pending(), FakeClient()
    consumer._on_revoke(client, [TopicPartition("t", 1)])
    assert client.commits == []  # the caller may not have handled them: redelivered instead
    assert pending(consumer) == {("t", 0): 10, ("t", 2): 30}
    consumer._on_lost(client, [TopicPartition("t", 0)])
    assert pending(consumer) == {("t", 2): 30}


class FakeMessage:
    def __init__(self, partition: int, offset: int, value: bytes) -> None:
        self._where = ("t", partition, offset)
        self._value = value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._where[0]

    def partition(self) -> int:
        return self._where[1]

    def offset(self) -> int:
        return self._where[2]

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return b"k"

    def headers(self) -> list[tuple[str, bytes]]:
        return []


def test_records_fetched_before_their_partition_was_revoked_are_not_handed_out() -> None:
    from tests.factories import valid_payload

    consumer = consumer_with_pending()
    model = consumer.spec.model
    value = model.model_validate(valid_payload(model)).model_dump_json().encode()

    def fetch(max_messages: int, timeout: float, *_: object) -> list[FakeMessage]:
        fetched = [FakeMessage(0, 10, value), FakeMessage(1, 20, value)]
        consumer._on_revoke(FakeClient(), [TopicPartition("t", 0)])  # rebalance mid-fetch
        return fetched

    consumer._client = HoldingClient(held=[1, 2])  # partition 0 went to another member
    consumer._fetch = fetch
    items = consumer.consume_batch(10, 0.1)
    assert [(i.partition, i.offset) for i in items] == [(1, 20)]
    assert ("t", 0) not in pending(consumer) and consumer.positions == {("t", 1): 21}
    assert consumer._client.seeks == []


def test_a_partition_given_back_during_the_fetch_is_read_again_from_its_earliest_record() -> None:
    from tests.factories import valid_payload

    consumer = consumer_with_pending()
    model = consumer.spec.model
    value = model.model_validate(valid_payload(model)).model_dump_json().encode()

    def fetch(max_messages: int, timeout: float, *_: object) -> list[FakeMessage]:
        before = [FakeMessage(0, 40, value)]  # of the old assignment
        consumer._on_revoke(FakeClient(), [TopicPartition("t", 0)])
        consumer._on_assign(FakeClient(), [TopicPartition("t", 0)])
        return [*before, FakeMessage(0, 10, value), FakeMessage(1, 20, value)]  # 0 given back

    consumer._client = HoldingClient()
    consumer._fetch = fetch
    items = consumer.consume_batch(10, 0.1)
    assert [(i.partition, i.offset) for i in items] == [(1, 20)]
    assert consumer._client.seeks == [("t", 0, 10)]  # nothing of it skipped


def test_offsets_read_from_a_topic_since_deleted_and_created_again_are_not_committed() -> None:
    consumer, client = consumer_with_pending(), HoldingClient()
    consumer._client = client
    batch = Ack({("t", 0): (0, 9)}, topic_ids={"t": "first"})
    consumer._topic_ids = lambda: {"t": "second"}  # recreated after the batch was read
    assert consumer.commit_offsets(batch) == [] and client.commits == []
    consumer._topic_ids = lambda: {"t": "first"}
    assert [(tp.partition, tp.offset) for tp in consumer.commit_offsets(batch)] == [(0, 10)]


def test_a_commit_refused_because_the_member_lost_its_partitions_is_dropped(caplog) -> None:
    consumer = consumer_with_pending()
    consumer._client = HoldingClient(refuse=KafkaError.UNKNOWN_MEMBER_ID)
    batch = Ack({("t", 0): (0, 9)}, topic_ids={"t": None})
    with caplog.at_level(logging.WARNING, logger="ownlens_kafka.consumer"):
        assert consumer.commit_offsets(batch) == []
    assert "delivered again" in caplog.text
    consumer._client = HoldingClient(refuse=KafkaError._TRANSPORT)  # any other failure raises
    with pytest.raises(KafkaException):
        consumer.commit_offsets(batch)
