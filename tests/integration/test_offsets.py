"""At-least-once: offsets are committed only for what the caller got, and only when it says so."""

from __future__ import annotations

import os
import signal
import time

from ownlens_kafka import UserEventConsumer, UserEventProducer, get_stream
from ownlens_kafka.consumer import ConsumedEvent
from ownlens_kafka.models import UserEventCreate
from tests.factories import valid_payload
from tests.helpers import drain

SPEC = get_stream("user_events")


def publish(config, count: int) -> list[UserEventCreate]:
    with UserEventProducer(config) as producer:
        return [producer.publish(valid_payload(SPEC.model)) for _ in range(count)]


def test_uncommitted_records_go_to_the_next_member(kafka_config, make_topics) -> None:
    make_topics(SPEC)
    sent = {e.event_id for e in publish(kafka_config, 6)}
    with UserEventConsumer(kafka_config) as crashed:
        assert {i.event.event_id for i in drain(crashed, 6)} == sent
        # no commit: as if the process died after receiving
    with UserEventConsumer(kafka_config) as successor:
        assert {i.event.event_id for i in drain(successor, 6)} == sent
        committed = successor.commit()
        assert sum(tp.offset for tp in committed) == 6
    with UserEventConsumer(kafka_config) as third:
        assert third.consume_batch(100, 1.5) == []
        assert sum(p.lag for p in third.lag()) == 0


def test_lag_counts_uncommitted_records(kafka_config, make_topics) -> None:
    make_topics(SPEC)
    publish(kafka_config, 10)  # one producer batch: the case Tansu's ListOffsets gets wrong
    with UserEventConsumer(kafka_config) as consumer:
        lag = consumer.lag()
        assert len(lag) == SPEC.partitions
        assert sum(p.lag for p in lag) == 10 and all(p.committed is None for p in lag)
        drain(consumer, 10)
        consumer.commit()
        lag = consumer.lag()
        assert sum(p.lag for p in lag) == 0
        assert sum(p.end for p in lag) == 10 and sum(p.committed or 0 for p in lag) == 10


def test_two_members_split_the_partitions(kafka_config, make_topics) -> None:
    make_topics(SPEC)
    sent = {e.event_id for e in publish(kafka_config, 60)}
    first, second = UserEventConsumer(kafka_config), UserEventConsumer(kafka_config)
    got: dict[int, list[ConsumedEvent[UserEventCreate]]] = {0: [], 1: []}
    try:
        deadline = time.monotonic() + 30
        while len(got[0]) + len(got[1]) < 60 and time.monotonic() < deadline:
            for index, member in enumerate((first, second)):
                got[index] += member.consume_batch(5, 0.3)
                member.commit()  # what one member took is not handed to the other on rebalance
    finally:
        first.close()
        second.close()
    ids = [i.event.event_id for member in got.values() for i in member]
    assert sorted(map(str, ids)) == sorted(map(str, sent))  # every record once, no duplicates
    parts = [{i.partition for i in member} for member in got.values()]
    assert parts[0] and parts[1] and not parts[0] & parts[1]


def test_run_calls_the_handler_commits_and_stops_on_sigint(kafka_config, make_topics) -> None:
    make_topics(SPEC)
    publish(kafka_config, 8)
    seen = []

    def handler(item) -> None:
        seen.append(item)
        if len(seen) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # stops after the current batch, not mid-way

    with UserEventConsumer(kafka_config) as consumer:
        stats = consumer.run(handler, batch_size=2, max_seconds=30)
        assert stats.consumed == len(seen) == 2
        assert sum(p.lag for p in consumer.lag()) == 6
    with UserEventConsumer(kafka_config) as consumer:
        stats = consumer.run(seen.append, per_batch=False, max_messages=6, max_seconds=30)
    assert stats.consumed == 6
    assert len({i.event.event_id for i in seen}) == 8
