"""What a consumer does with handed-out offsets when partitions are revoked (pure logic)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition

from ownlens_kafka import KafkaConfig, UserEventConsumer


class FakeClient:
    def __init__(self) -> None:
        self.commits: list[list[tuple[str, int, int]]] = []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])


def consumer_with_pending() -> Any:
    consumer = UserEventConsumer(KafkaConfig())
    consumer._pending.update({("t", 0): 10, ("t", 1): 20, ("t", 2): 30})
    return consumer


def test_run_commits_what_it_handled_on_the_revoked_partitions() -> None:
    consumer, client = consumer_with_pending(), FakeClient()
    consumer._commit_on_revoke = True  # as inside run(): everything handed out was handled
    consumer._on_revoke(client, [TopicPartition("t", 0), TopicPartition("t", 2)])
    assert client.commits == [[("t", 0, 10), ("t", 2, 30)]]
    assert consumer._pending == {("t", 1): 20}


def test_outside_run_revoked_offsets_are_dropped_not_committed() -> None:
    consumer, client = consumer_with_pending(), FakeClient()
    consumer._on_revoke(client, [TopicPartition("t", 1)])
    assert client.commits == []  # the caller may not have handled them: redelivered instead
    assert consumer._pending == {("t", 0): 10, ("t", 2): 30}
    consumer._on_lost(client, [TopicPartition("t", 0)])
    assert consumer._pending == {("t", 2): 30}
