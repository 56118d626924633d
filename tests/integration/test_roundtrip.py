"""Every stream, end to end: the named producer publishes, the named consumer receives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ownlens_kafka import CONSUMERS, PRODUCERS, STREAMS, KafkaConfig
from tests.factories import valid_payload
from tests.helpers import drain

PAIRS = list(zip(STREAMS, PRODUCERS, CONSUMERS, strict=True))


@pytest.mark.parametrize(
    ("spec", "producer_cls", "consumer_cls"), PAIRS, ids=[spec.name for spec in STREAMS]
)
def test_named_producer_and_consumer_round_trip(
    spec, producer_cls, consumer_cls, kafka_config: KafkaConfig, make_topics
) -> None:
    assert producer_cls.stream is spec and consumer_cls.stream is spec
    make_topics(spec)
    before = datetime.now(UTC) - timedelta(seconds=1)
    with producer_cls(kafka_config) as producer:
        sent = [producer.publish(valid_payload(spec.model)) for _ in range(5)]
    with consumer_cls(kafka_config) as consumer:
        assert consumer.topics == [kafka_config.topic_name(spec.topic)]
        received = drain(consumer, len(sent))
        consumer.commit()
    assert len(received) == len(sent)
    assert sorted(map(repr, sent)) == sorted(repr(item.event) for item in received)
    for item in received:
        assert item.topic == kafka_config.topic_name(spec.topic)
        assert item.key == spec.key_of(item.event)
        meta = item.metadata
        assert meta.producer == f"{kafka_config.client_id}/{producer_cls.__name__}"
        assert meta.schema_version == spec.model.schema_version
        assert meta.produced_at is not None and meta.produced_at >= before
