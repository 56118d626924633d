"""The producer's fast path for dicts sends what the pydantic path sends (pure logic)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ownlens_kafka import KafkaConfig
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import STREAMS, StreamSpec
from tests.factories import valid_payload


def producer(spec: StreamSpec) -> BaseKafkaProducer[Any]:
    return BaseKafkaProducer(KafkaConfig(), stream=spec)


def as_read(value: dict[str, Any], spec: StreamSpec) -> dict[str, Any]:
    """What a consumer reads from the JSON: the model it validates to, dumped."""
    read: dict[str, Any] = json.loads(spec.model.model_validate(value).model_dump_json())
    return read


@pytest.mark.parametrize("spec", STREAMS, ids=lambda s: s.name)
def test_a_dict_is_sent_as_its_model_would_be(spec: StreamSpec) -> None:
    sender = producer(spec)
    for _ in range(20):
        event = valid_payload(spec.model, **{spec.id_field: str(uuid.uuid4())})
        value, key = sender._encoded(event)
        model = sender.validate(event)
        assert key == spec.key_of(model)
        assert as_read(json.loads(value), spec) == json.loads(model.model_dump_json())
    assert sender._gate(sender._encoded(event)[0]) is not None  # it took the fast path


def test_a_dict_the_gate_cannot_judge_goes_through_pydantic() -> None:
    spec = STREAMS[0]
    sender = producer(spec)
    event = valid_payload(spec.model)
    event["user_id"] = str(event["user_id"]).upper()  # valid, not canonical: pydantic's path
    value, key = sender._encoded(event)
    assert key == str(event["user_id"]).lower()
    assert json.loads(value)["user_id"] == key


def test_an_invalid_dict_is_reported_not_sent() -> None:
    spec = STREAMS[0]
    result = producer(spec).publish_batch([{**valid_payload(spec.model), "user_id": "nobody"}])
    assert (result.sent, [f.index for f in result.failures]) == (0, [0])
    assert "user_id" in result.failures[0].reason
