"""Topic administration from the table, and the embedded broker's life cycle."""

from __future__ import annotations

import pytest

from ownlens_kafka import STREAMS, create_topics, list_topics
from ownlens_kafka.broker import EmbeddedBroker
from ownlens_kafka.errors import BrokerStartError


def test_create_topics_is_idempotent(kafka_config) -> None:
    created = create_topics(kafka_config)
    expected = {kafka_config.topic_name(t) for s in STREAMS for t in (s.topic, s.dlq_topic)}
    assert set(created) == expected and len(created) == 20
    assert create_topics(kafka_config) == []
    listed = list_topics(kafka_config)
    assert all(listed[name] == 3 for name in expected)


def test_embedded_broker_starts_answers_and_stops() -> None:
    broker = EmbeddedBroker().start()
    try:
        assert broker.running
        create_topics(broker.kafka_config(namespace="solo."), STREAMS[:1])
        with pytest.raises(BrokerStartError, match="already in use"):
            EmbeddedBroker(port=broker.port).start()
    finally:
        broker.stop()
    assert not broker.running
