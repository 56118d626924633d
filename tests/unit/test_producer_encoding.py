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


@pytest.mark.parametrize(
    "change",
    [
        {"article_title": b"hello"},  # bytes: msgspec would write base64
        {"metadata": {1: "x"}},  # a key that is not a string
        {"engagement_metrics": {"seen": {1, 2}}},  # a set
        {"article_id": uuid.UUID(int=7)},  # an object where a string belongs
    ],
    ids=["bytes", "int-key", "set", "uuid-object"],
)
def test_what_is_not_plain_json_is_judged_by_pydantic(change: dict[str, Any]) -> None:
    spec = STREAMS[0]
    sender = producer(spec)
    event = {**valid_payload(spec.model), **change}
    try:
        expected = sender.encode(sender.validate(event))
    except Exception:
        expected = None  # pydantic rejects it: so must the producer
    try:
        value = sender._encoded(event)[0]
    except Exception:
        value = None
    assert value == expected
