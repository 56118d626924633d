"""Bad records never reach the caller and never stall the partition: they go to `<topic>-dlq`."""

from __future__ import annotations

import json

from confluent_kafka import Producer

from ownlens_kafka import UserEventConsumer, get_stream
from ownlens_kafka.envelope import header_value
from tests.factories import valid_payload
from tests.helpers import drain, header_map, headers_of, read_topic

SPEC = get_stream("user_events")


def test_malformed_and_invalid_records_are_dead_lettered(kafka_config, make_topics) -> None:
    make_topics(SPEC)
    topic = kafka_config.topic_name(SPEC.topic)
    good = [valid_payload(SPEC.model) for _ in range(3)]
    bad_json = b"\xff{not json"
    bad_schema = json.dumps(valid_payload(SPEC.model, event_type="teleport")).encode()
    raw = Producer(kafka_config.producer_config())
    # All on one partition, bad records between good ones: the partition must move on.
    for value in (
        bad_json,
        json.dumps(good[0]).encode(),
        bad_schema,
        json.dumps(good[1]).encode(),
        json.dumps(good[2]).encode(),
    ):
        raw.produce(topic, value, key=b"same-key", partition=0, headers=[("origin", b"test")])
    assert raw.flush(10) == 0

    with UserEventConsumer(kafka_config) as consumer:
        received = drain(consumer, 3)
        assert [str(item.event.event_id) for item in received] == [g["event_id"] for g in good]
        assert consumer.stats.dead_lettered == 2
        consumer.commit()
        lag = consumer.lag()
    assert sum(p.lag for p in lag) == 0

    dead = read_topic(kafka_config, f"{topic}-dlq", 2)
    assert [m.value() for m in dead] == [bad_json, bad_schema]
    assert all(m.key() == b"same-key" for m in dead)
    first, second = (header_map(m) for m in dead)
    assert first["origin"] == b"test"
    assert first["dlq.error_type"] == b"DeserializationError"
    assert second["dlq.error_type"] == b"ValidationError"
    assert b"event_type" in second["dlq.error"]
    assert header_value(headers_of(dead[0]), "dlq.source_topic") == topic
    assert [header_value(headers_of(m), "dlq.source_offset") for m in dead] == ["0", "2"]
    assert header_value(headers_of(dead[0]), "dlq.source_partition") == "0"
