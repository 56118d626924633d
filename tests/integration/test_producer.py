"""Publishing: validation before sending, batch results, delivery failures raised."""

from __future__ import annotations

from typing import Any

import pytest

from ownlens_kafka import (
    DeliveryError,
    EventValidationError,
    KafkaConfig,
    UserEventProducer,
    get_stream,
)
from ownlens_kafka.broker import free_port
from tests.factories import valid_payload
from tests.helpers import header_map, read_topic

SPEC = get_stream("user_events")


def test_invalid_event_is_rejected_naming_each_field(kafka_config) -> None:
    producer = UserEventProducer(kafka_config)
    with pytest.raises(EventValidationError) as caught:
        producer.publish(valid_payload(SPEC.model, user_id="nope", event_type="teleport"))
    message = str(caught.value)
    assert "user_id" in message and "event_type" in message and "'nope'" in message
    assert producer._client is None  # nothing was sent, not even a connection made


def test_batch_reports_delivered_count_and_failures_by_index(kafka_config, make_topics) -> None:
    make_topics(SPEC)
    events: list[Any] = [valid_payload(SPEC.model) for _ in range(10)]
    events[3] = {**events[3], "country_code": "Narnia"}
    events[7] = "not an event"
    with UserEventProducer(kafka_config) as producer:
        result = producer.publish_batch(events)
    assert (result.sent, result.delivered) == (8, 8)
    assert [f.index for f in result.failures] == [3, 7]
    assert "country_code" in result.failures[0].reason
    assert sum(last - first + 1 for first, last in result.offsets.values()) == 8
    stored = read_topic(kafka_config, kafka_config.topic_name(SPEC.topic), 8)
    assert len(stored) == 8
    assert {header_map(m)["producer"] for m in stored} == {b"ownlens/UserEventProducer"}


def test_key_defaults_to_the_stream_key_and_can_be_overridden(kafka_config, make_topics) -> None:
    make_topics(SPEC)
    with UserEventProducer(kafka_config) as producer:
        event = producer.publish(valid_payload(SPEC.model))
        producer.publish(valid_payload(SPEC.model), key="explicit")
    keys = {m.key() for m in read_topic(kafka_config, kafka_config.topic_name(SPEC.topic), 2)}
    assert keys == {str(event.user_id).encode(), b"explicit"}


def test_delivery_failure_is_raised_not_swallowed() -> None:
    dead = KafkaConfig(
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        delivery_timeout_ms=1_500,
        producer_extra={"socket.connection.setup.timeout.ms": 1_000},
    )
    producer = UserEventProducer(dead)
    producer.publish(valid_payload(SPEC.model))
    with pytest.raises(DeliveryError) as caught:
        producer.flush(timeout=20)
    assert len(caught.value.failures) == 1
    assert "timed out" in caught.value.failures[0].reason.lower()
    result = UserEventProducer(dead).publish_batch([valid_payload(SPEC.model)] * 2, timeout=20)
    assert result.delivered == 0 and [f.index for f in result.failures] == [0, 1]


def test_a_full_local_queue_is_waited_out_not_dropped(kafka_config, make_topics) -> None:
    make_topics(SPEC)
    tiny = UserEventProducer(kafka_config, **{"queue.buffering.max.messages": 5})
    events = [valid_payload(SPEC.model) for _ in range(300)]
    result = tiny.publish_batch(events)
    assert (result.delivered, result.failures) == (300, [])
    for event in events[:50]:
        tiny.publish(event)
    tiny.flush()
    assert len(read_topic(kafka_config, kafka_config.topic_name(SPEC.topic), 350)) == 350
