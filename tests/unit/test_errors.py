"""Error messages name the field, the rule and the value's type and length, never a personal
value; formatting never raises, whatever the input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.errors import SHOW_VALUES, EventValidationError, describe_validation_error
from ownlens_kafka.models import (
    AuditLogCreate,
    EventModel,
    SecurityEventCreate,
    SessionCreate,
    UserEventCreate,
)
from ownlens_kafka.producers import UserEventProducer
from ownlens_kafka.sensitive import SENSITIVE_KEY, sensitive_fields
from tests.factories import MODELS, valid_payload

CANARY = "canary-7f3a@example.com"
ModelCls = type[EventModel]


@pytest.fixture(autouse=True)
def _values_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SHOW_VALUES, raising=False)


def error_of(model: ModelCls, **overrides: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(valid_payload(model, **overrides))
    return caught.value


def nested(depth: int, leaf: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": leaf}
    for _ in range(depth - 1):
        value = {"child": value}
    return value


# Which fields are sensitive ------------------------------------------------------------------


def test_personal_fields_are_marked_sensitive() -> None:
    assert {"ip_address", "user_agent", "description", "failure_reason", "event_data"} <= (
        sensitive_fields(SecurityEventCreate)
    )
    assert {"ip_address", "user_agent", "endpoint", "resource_identifier", "error_message"} <= (
        sensitive_fields(AuditLogCreate)
    )
    assert {"page_url", "engagement_metrics", "metadata"} <= sensitive_fields(UserEventCreate)
    assert {"referrer", "page_events"} <= sensitive_fields(SessionCreate)
    assert "event_type" not in sensitive_fields(UserEventCreate)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_free_form_dict_and_url_is_sensitive(model: ModelCls) -> None:
    schema = model.model_json_schema()
    for name, field in model.model_fields.items():
        text = repr(field.annotation)
        if "FreeDictBounds" in text or "https?" in text:
            assert name in sensitive_fields(model), name
            assert schema["properties"][name][SENSITIVE_KEY] is True, name
    for name in sensitive_fields(model):
        assert schema["properties"][name].get(SENSITIVE_KEY) is True


# What a message shows ----------------------------------------------------------------------------

HIDDEN_CASES = [
    (SecurityEventCreate, "ip_address", CANARY),
    (AuditLogCreate, "ip_address", CANARY),
    (SecurityEventCreate, "user_agent", CANARY * 500),
    (AuditLogCreate, "endpoint", CANARY * 30),
    (AuditLogCreate, "resource_identifier", CANARY * 20),
    (SessionCreate, "referrer", CANARY * 20),
    (UserEventCreate, "page_url", f"ftp://{CANARY}/"),
    (UserEventCreate, "page_url", 12345),
    (UserEventCreate, "metadata", {"password": CANARY, "deep": nested(6, CANARY)}),
    (UserEventCreate, "metadata", {CANARY * 10: 1}),
    (UserEventCreate, "engagement_metrics", {"a": {CANARY * 10: CANARY}}),
    (SessionCreate, "page_events", [{"token": CANARY, "x": {CANARY}}]),
    (SecurityEventCreate, "event_data", {"a": float("nan"), "b": CANARY}),
    (AuditLogCreate, "request_data", {f"k{i}": CANARY for i in range(101)}),
]


@pytest.mark.parametrize(("model", "name", "value"), HIDDEN_CASES, ids=lambda v: str(v)[:20])
def test_sensitive_values_never_appear(model: ModelCls, name: str, value: Any) -> None:
    error = error_of(model, **{name: value})
    text = describe_validation_error(error)
    assert name in text
    assert CANARY not in text
    assert "canary" not in text
    assert "(got " in text  # the type and length instead
    wrapped = EventValidationError(model.__name__, error)
    assert CANARY not in str(wrapped)
    assert CANARY not in repr(wrapped.errors)
    assert all("input" not in item for item in wrapped.errors)


def test_the_message_names_the_path_rule_type_and_length() -> None:
    text = describe_validation_error(error_of(SecurityEventCreate, ip_address=CANARY))
    assert text == (
        "ip_address: Value error, is not a valid IPv4 or IPv6 address [value_error] "
        f"(got str of {len(CANARY)} chars)"
    )
    text = describe_validation_error(error_of(UserEventCreate, metadata={CANARY * 10: 1}))
    assert text.startswith("metadata.<key>.[key]: String should have at most 100 characters")


def test_short_non_sensitive_values_are_shown_shortened() -> None:
    text = describe_validation_error(error_of(UserEventCreate, event_type="not_a_value"))
    assert "event_type:" in text and "[literal_error]" in text
    assert "(got str of 11 chars: 'not_a_value')" in text
    long = describe_validation_error(error_of(UserEventCreate, article_title="y" * 600))
    assert "str of 600 chars: 'yyyy" in long and "..." in long
    assert "y" * 41 not in long


def test_validator_messages_do_not_echo_values() -> None:
    cases: list[tuple[ModelCls, str, str]] = [
        (UserEventCreate, "timezone", CANARY),
        (SecurityEventCreate, "ip_address", CANARY),
        (SessionCreate, "session_end", "2000-01-01T00:00:00Z"),
        (UserEventCreate, "event_date", "2000-01-01"),
    ]
    for model, name, value in cases:
        for item in error_of(model, **{name: value}).errors(include_url=False):
            assert CANARY not in item["msg"] and "2000" not in item["msg"]


def test_unknown_fields_and_unknown_models_hide_values() -> None:
    text = describe_validation_error(error_of(UserEventCreate, **{"email\n\x1b[31m": CANARY}))
    assert CANARY not in text
    assert "\n" not in text and "\x1b" not in text
    assert "email\\n\\x1b[31m: Extra inputs are not permitted" in text

    class Other(BaseModel):
        token: int

    with pytest.raises(ValidationError) as caught:
        Other.model_validate({"token": CANARY})
    assert CANARY not in describe_validation_error(caught.value)


def test_values_are_shown_when_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    error = error_of(SecurityEventCreate, ip_address=CANARY)
    assert CANARY not in describe_validation_error(error)
    monkeypatch.setenv(SHOW_VALUES, "1")  # read when formatting, not at import
    assert CANARY in describe_validation_error(error)
    free = error_of(UserEventCreate, metadata={"deep": nested(6, CANARY)})
    assert CANARY in describe_validation_error(free)


def test_at_most_twenty_problems_are_listed() -> None:
    with pytest.raises(ValidationError) as caught:
        SessionCreate.model_validate(valid_payload(SessionCreate, categories_visited=[1] * 50))
    text = describe_validation_error(caught.value)
    assert text.count("categories_visited.") == 20
    assert text.endswith("... and 30 more")


# Hostile inputs: validation and formatting stay clean ------------------------------------------


@pytest.mark.parametrize("show", ["", "1"])
def test_a_10000_deep_dict_gives_a_clean_error(monkeypatch: pytest.MonkeyPatch, show: str) -> None:
    monkeypatch.setenv(SHOW_VALUES, show)
    deep = nested(10_000, CANARY)
    error = error_of(UserEventCreate, metadata=deep)  # no RecursionError in validation
    text = describe_validation_error(error)  # nor in formatting
    assert "metadata: Value error, nesting deeper than 5 levels" in text
    raw = '{"metadata":' + "[" * 10_000 + "]" * 10_000 + "}"
    with pytest.raises(ValidationError) as caught:
        UserEventCreate.model_validate_json(raw)
    assert describe_validation_error(caught.value)


def test_huge_inputs_give_a_short_message(monkeypatch: pytest.MonkeyPatch) -> None:
    error = error_of(UserEventCreate, metadata={"a": list(range(1_000_000))})
    text = describe_validation_error(error)
    assert "list at depth 2 has more than 1000 items" in text
    assert len(text) < 300
    monkeypatch.setenv(SHOW_VALUES, "1")
    assert len(describe_validation_error(error)) < 600


def test_an_out_of_range_timestamp_is_a_validation_error() -> None:
    for value in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"):
        error = error_of(UserEventCreate, event_timestamp=value)  # not OverflowError
        assert error.errors()[0]["loc"] == ("event_timestamp",)
        with pytest.raises(ValidationError):
            UserEventCreate.model_validate_json(
                json.dumps(valid_payload(UserEventCreate, event_timestamp=value))
            )


def test_publish_raises_event_validation_error_for_an_out_of_range_timestamp() -> None:
    producer = UserEventProducer(KafkaConfig())  # validation comes before any connection
    payload = valid_payload(UserEventCreate, event_timestamp="0001-01-01T00:30:00+01:00")
    with pytest.raises(EventValidationError) as caught:
        producer.publish(payload)
    assert "event_timestamp" in str(caught.value)
    assert "outside years 1-9999" in str(caught.value)
