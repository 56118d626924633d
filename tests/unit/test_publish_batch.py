"""publish_batch without a reachable broker: what could not be sent comes back by index."""

from __future__ import annotations

from ownlens_kafka import KafkaConfig, UserEventProducer
from ownlens_kafka.broker import free_port
from tests.factories import valid_payload


def test_a_batch_that_times_out_reports_every_item_instead_of_raising() -> None:
    nowhere = KafkaConfig(bootstrap_servers=f"127.0.0.1:{free_port()}")  # nothing listens there
    producer = UserEventProducer(nowhere)
    events = [valid_payload(producer.model) for _ in range(5)]
    result = producer.publish_batch([*events[:2], {"user_id": "nobody"}, *events[2:]], timeout=1)
    assert (result.sent, result.delivered) == (5, 0)
    assert [f.index for f in result.failures] == [0, 1, 2, 3, 4, 5]  # a retry knows what to send
    assert "Purged" in result.failures[0].reason or "purge" in result.failures[0].reason.lower()
