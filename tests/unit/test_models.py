"""Unit tests of the event models: shared contract, then one test per specific rule."""

import json
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, cast
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ownlens_kafka.envelope import EventMetadata
from ownlens_kafka.models import (
    ArticleCreate,
    AuditLogCreate,
    ComplianceEventCreate,
    ContentEventCreate,
    EventModel,
    InternalContentCreate,
    ModelPredictionCreate,
    QualityMetricCreate,
    SecurityEventCreate,
    SessionCreate,
    UserEventCreate,
)
from ownlens_kafka.models._types import AgreesWith, DateOf, NotBefore
from tests.factories import MODELS, valid_payload

ModelCls = type[EventModel]

ID_FIELD: dict[ModelCls, str] = {
    UserEventCreate: "event_id",
    SessionCreate: "session_id",
    ContentEventCreate: "event_id",
    ArticleCreate: "article_id",
    InternalContentCreate: "content_id",
    SecurityEventCreate: "event_id",
    ComplianceEventCreate: "event_id",
    AuditLogCreate: "log_id",
    QualityMetricCreate: "metric_id",
    ModelPredictionCreate: "prediction_id",
}
TIMESTAMP_FIELD: dict[ModelCls, str] = {
    UserEventCreate: "event_timestamp",
    SessionCreate: "session_start",
    ContentEventCreate: "event_timestamp",
    ArticleCreate: "publish_time",
    InternalContentCreate: "publish_time",
    SecurityEventCreate: "event_timestamp",
    ComplianceEventCreate: "event_timestamp",
    AuditLogCreate: "event_timestamp",
    ModelPredictionCreate: "predicted_at",
}
DERIVED_DATE: dict[ModelCls, tuple[str, str]] = {
    m: (
        ts,
        {"publish_time": "publish_date", "predicted_at": "prediction_date"}.get(ts, "event_date"),
    )
    for m, ts in TIMESTAMP_FIELD.items()
    if m is not SessionCreate
}
FREE_DICT_FIELDS: list[tuple[ModelCls, str]] = [
    *((m, "metadata") for m in MODELS),
    (UserEventCreate, "engagement_metrics"),
    (ContentEventCreate, "engagement_metrics"),
    (SecurityEventCreate, "event_data"),
    (ComplianceEventCreate, "data_scope"),
    (AuditLogCreate, "request_data"),
    (AuditLogCreate, "response_data"),
    (ModelPredictionCreate, "input_features"),
]

by_name = pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)


def _id(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else str(value)


def rejected(model: ModelCls, payload: dict[str, Any], field: str) -> list[ErrorDetails]:
    """Validate `payload`, expect failure, and return the errors located at `field`."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(payload)
    errors = [e for e in info.value.errors() if e["loc"] and e["loc"][0] == field]
    assert errors, f"no error at {field!r}: {info.value}"
    return errors


def build(model: ModelCls, **overrides: Any) -> Any:
    return model.model_validate(valid_payload(model, **overrides))


def without(payload: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in fields}


# Shared contract -----------------------------------------------------------------------------


@by_name
def test_valid_payload_is_accepted_from_dict_and_json(model: ModelCls) -> None:
    payload = valid_payload(model)
    from_dict = model.model_validate(payload)
    from_json = model.model_validate_json(json.dumps(payload).encode())
    assert from_dict == from_json
    assert str(getattr(from_dict, ID_FIELD[model])) == payload[ID_FIELD[model]]


@by_name
def test_factory_gives_fresh_ids_and_a_stable_shape(model: ModelCls) -> None:
    first, second = valid_payload(model), valid_payload(model)
    assert first.keys() == second.keys()
    assert first[ID_FIELD[model]] != second[ID_FIELD[model]]
    assert first["company_id"] != second["company_id"]


@by_name
def test_json_round_trip_is_equal(model: ModelCls) -> None:
    instance = build(model)
    assert model.model_validate_json(instance.model_dump_json()) == instance
    assert model.model_validate(instance.model_dump(mode="json")) == instance
    assert model.model_validate(instance.model_dump()) == instance


@by_name
def test_minimal_payload_round_trips(model: ModelCls) -> None:
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    instance = model.model_validate(
        {k: v for k, v in valid_payload(model).items() if k in required}
    )
    assert isinstance(getattr(instance, ID_FIELD[model]), UUID)
    assert instance.metadata == {}
    assert model.model_validate_json(instance.model_dump_json()) == instance


@by_name
def test_unknown_field_is_rejected(model: ModelCls) -> None:
    errors = rejected(model, valid_payload(model, unexpected_field=1), "unexpected_field")
    assert errors[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("model", "field"),
    [(m, n) for m in MODELS for n, f in m.model_fields.items() if f.is_required()],
    ids=_id,
)
def test_missing_required_field_is_rejected_by_name(model: ModelCls, field: str) -> None:
    errors = rejected(model, without(valid_payload(model), field), field)
    assert errors[0]["type"] == "missing"


@by_name
def test_invalid_scope_uuid_is_rejected(model: ModelCls) -> None:
    rejected(model, valid_payload(model, brand_id="not-a-uuid"), "brand_id")


@pytest.mark.parametrize("model", list(TIMESTAMP_FIELD), ids=_id)
def test_naive_datetime_is_read_as_utc(model: ModelCls) -> None:
    field = TIMESTAMP_FIELD[model]
    from_json = build(model, **{field: "2025-03-14T23:30:00"})
    from_python = build(model, **{field: datetime(2025, 3, 14, 23, 30)})
    expected = datetime(2025, 3, 14, 23, 30, tzinfo=UTC)
    for instance in (from_json, from_python):
        value = getattr(instance, field)
        assert value == expected
        assert value.tzinfo is UTC
    assert model.model_validate_json(from_json.model_dump_json()) == from_json


@pytest.mark.parametrize("model", list(TIMESTAMP_FIELD), ids=_id)
def test_offset_datetime_is_converted_to_utc(model: ModelCls) -> None:
    field = TIMESTAMP_FIELD[model]
    value = getattr(build(model, **{field: "2025-03-14T23:30:00-02:00"}), field)
    assert value == datetime(2025, 3, 15, 1, 30, tzinfo=UTC)
    assert value.tzinfo is UTC


@pytest.mark.parametrize("model", list(DERIVED_DATE), ids=_id)
def test_derived_date_is_filled_from_the_utc_timestamp(model: ModelCls) -> None:
    source, derived = DERIVED_DATE[model]
    instance = build(model, **{source: "2025-03-14T23:30:00-02:00"})
    assert getattr(instance, derived) == date(2025, 3, 15)


@pytest.mark.parametrize("model", list(DERIVED_DATE), ids=_id)
def test_derived_date_that_agrees_is_accepted(model: ModelCls) -> None:
    source, derived = DERIVED_DATE[model]
    instance = build(model, **{source: "2025-03-14T10:00:00Z", derived: "2025-03-14"})
    assert getattr(instance, derived) == date(2025, 3, 14)


@pytest.mark.parametrize("model", list(DERIVED_DATE), ids=_id)
def test_derived_date_that_disagrees_is_rejected(model: ModelCls) -> None:
    source, derived = DERIVED_DATE[model]
    payload = valid_payload(model, **{source: "2025-03-14T23:30:00-02:00", derived: "2025-03-14"})
    errors = rejected(model, payload, derived)
    assert source in errors[0]["msg"]


@pytest.mark.parametrize("model", list(TIMESTAMP_FIELD), ids=_id)
def test_auto_id_and_timestamp_are_filled(model: ModelCls) -> None:
    id_field, ts_field = ID_FIELD[model], TIMESTAMP_FIELD[model]
    before = datetime.now(UTC)
    dropped = (id_field, ts_field, "session_end", "expiry_date")
    first = model.model_validate(without(valid_payload(model), *dropped))
    second = model.model_validate(without(valid_payload(model), *dropped))
    assert getattr(first, id_field).version == 4
    assert getattr(first, id_field) != getattr(second, id_field)
    stamp = getattr(first, ts_field)
    assert stamp.tzinfo is not None
    assert before <= stamp <= datetime.now(UTC)
    if model in DERIVED_DATE:
        assert getattr(first, DERIVED_DATE[model][1]) == stamp.date()


@by_name
def test_schema_version_is_a_class_level_int(model: ModelCls) -> None:
    assert isinstance(model.schema_version, int)
    assert model.schema_version >= 1
    assert "schema_version" not in model.model_fields
    assert "schema_version" not in build(model).model_dump()


@by_name
def test_instances_are_frozen(model: ModelCls) -> None:
    instance = build(model)
    with pytest.raises(ValidationError) as info:
        instance.company_id = instance.brand_id
    assert info.value.errors()[0]["type"] == "frozen_instance"


@by_name
def test_json_schema_and_description(model: ModelCls) -> None:
    schema = model.model_json_schema()
    assert schema["additionalProperties"] is False
    assert schema["description"]
    assert "\n" not in schema["description"]


@by_name
def test_python_dump_has_only_plain_column_types(model: ModelCls) -> None:
    plain = {str, int, float, bool, type(None), UUID, datetime, date, list, dict}
    for name, value in build(model).model_dump().items():
        assert type(value) in plain, name


# Enumerations --------------------------------------------------------------------------------


def _literal_values(annotation: Any) -> tuple[str, ...] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        values = _literal_values(arg)
        if values:
            return values
    return None


ENUM_FIELDS = [
    (m, name, values)
    for m in MODELS
    for name, f in m.model_fields.items()
    if (values := _literal_values(f.annotation))
]


def test_every_enum_in_the_reference_is_a_literal() -> None:
    found = {(m.__name__, name) for m, name, _ in ENUM_FIELDS}
    assert found == {
        ("UserEventCreate", "event_type"),
        ("ContentEventCreate", "event_type"),
        ("ArticleCreate", "status"),
        ("InternalContentCreate", "content_type"),
        ("InternalContentCreate", "status"),
        ("InternalContentCreate", "priority_level"),
        ("SecurityEventCreate", "event_type"),
        ("SecurityEventCreate", "event_severity"),
        ("ComplianceEventCreate", "compliance_type"),
        ("ComplianceEventCreate", "event_type"),
        ("ComplianceEventCreate", "status"),
        ("AuditLogCreate", "action"),
        ("AuditLogCreate", "method"),
    }


@pytest.mark.parametrize(("model", "field", "values"), ENUM_FIELDS, ids=_id)
def test_enum_accepts_each_value_and_rejects_others(
    model: ModelCls, field: str, values: tuple[str, ...]
) -> None:
    for value in values:
        assert getattr(build(model, **{field: value}), field) == value
    errors = rejected(model, valid_payload(model, **{field: "not_a_value"}), field)
    assert errors[0]["type"] == "literal_error"
    rejected(model, valid_payload(model, **{field: values[0].swapcase()}), field)


def test_enum_defaults() -> None:
    article = ArticleCreate.model_validate(without(valid_payload(ArticleCreate), "status"))
    assert article.status == "draft"
    content = InternalContentCreate.model_validate(
        without(valid_payload(InternalContentCreate), "status", "priority_level")
    )
    assert (content.status, content.priority_level) == ("draft", "normal")
    assert content.model_dump(mode="json")["status"] == "draft"


# String, list and number bounds --------------------------------------------------------------

STRING_LIMITS = [
    (UserEventCreate, "article_title", 500),
    (UserEventCreate, "article_id", 10_000),
    (SessionCreate, "referrer", 255),
    (SessionCreate, "user_segment", 10_000),
    (ContentEventCreate, "referrer", 255),
    (ContentEventCreate, "referrer_type", 50),
    (ArticleCreate, "external_article_id", 255),
    (ArticleCreate, "title", 500),
    (ArticleCreate, "headline", 500),
    (ArticleCreate, "summary", 10_000),
    (InternalContentCreate, "title", 500),
    (InternalContentCreate, "content_body", 100_000),
    (SecurityEventCreate, "failure_reason", 10_000),
    (ComplianceEventCreate, "resource_type", 100),
    (AuditLogCreate, "resource_type", 100),
    (AuditLogCreate, "resource_identifier", 255),
    (AuditLogCreate, "endpoint", 500),
    (AuditLogCreate, "error_code", 50),
    (QualityMetricCreate, "table_name", 255),
    (QualityMetricCreate, "column_name", 255),
    (QualityMetricCreate, "domain", 50),
    (QualityMetricCreate, "quality_grade", 10),
    (ModelPredictionCreate, "prediction_type", 100),
    (ModelPredictionCreate, "entity_type", 100),
    (ModelPredictionCreate, "prediction_class", 100),
    (ModelPredictionCreate, "actual_class", 100),
]


@pytest.mark.parametrize(("model", "field", "limit"), STRING_LIMITS, ids=_id)
def test_string_length_limit(model: ModelCls, field: str, limit: int) -> None:
    assert len(getattr(build(model, **{field: "x" * limit}), field)) == limit
    errors = rejected(model, valid_payload(model, **{field: "x" * (limit + 1)}), field)
    assert errors[0]["type"] == "string_too_long"


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (ArticleCreate, "title"),
        (InternalContentCreate, "title"),
        (AuditLogCreate, "resource_type"),
        (QualityMetricCreate, "table_name"),
        (ModelPredictionCreate, "prediction_type"),
    ],
    ids=_id,
)
def test_required_name_must_not_be_empty(model: ModelCls, field: str) -> None:
    rejected(model, valid_payload(model, **{field: ""}), field)


def test_tags_are_limited_to_100_items_of_100_chars() -> None:
    assert len(build(ArticleCreate, tags=[f"t{i}" for i in range(100)]).tags) == 100
    rejected(
        ArticleCreate, valid_payload(ArticleCreate, tags=[f"t{i}" for i in range(101)]), "tags"
    )
    rejected(ArticleCreate, valid_payload(ArticleCreate, tags=["x" * 101]), "tags")
    rejected(InternalContentCreate, valid_payload(InternalContentCreate, tags=["t"] * 101), "tags")


@pytest.mark.parametrize(
    ("model", "field", "item"),
    [
        (ArticleCreate, "co_author_ids", "6f1d2c2e-2b8a-4c3e-9a43-0d6d9c1f7a11"),
        (ComplianceEventCreate, "resource_ids", "6f1d2c2e-2b8a-4c3e-9a43-0d6d9c1f7a11"),
        (SessionCreate, "categories_visited", "sport"),
        (SessionCreate, "page_events", {}),
    ],
    ids=_id,
)
def test_lists_are_capped_at_1000_items(model: ModelCls, field: str, item: Any) -> None:
    assert len(getattr(build(model, **{field: [item] * 1000}), field)) == 1000
    errors = rejected(model, valid_payload(model, **{field: [item] * 1001}), field)
    assert errors[0]["type"] == "too_long"


def test_list_item_strings_are_bounded() -> None:
    rejected(
        SessionCreate,
        valid_payload(SessionCreate, article_titles_visited=["x" * 501]),
        "article_titles_visited",
    )
    rejected(
        SessionCreate,
        valid_payload(SessionCreate, categories_visited=["x" * 1001]),
        "categories_visited",
    )


def test_list_items_are_validated() -> None:
    rejected(
        ArticleCreate, valid_payload(ArticleCreate, relevant_cities=["nope"]), "relevant_cities"
    )


SESSION_COUNTERS = [
    "total_events",
    "article_views",
    "article_clicks",
    "video_plays",
    "newsletter_signups",
    "ad_clicks",
    "searches",
    "pages_visited_count",
    "unique_pages_count",
    "unique_categories_count",
    "session_duration_sec",
    "time_on_page_avg",
]
QUALITY_COUNTS = [
    "total_records",
    "null_count",
    "invalid_count",
    "duplicate_count",
    "out_of_range_count",
    "format_errors",
    "stale_records",
    "unique_count",
]
NON_NEGATIVE = [
    *((SessionCreate, f) for f in SESSION_COUNTERS),
    (SessionCreate, "engagement_score"),
    (ArticleCreate, "word_count"),
    (ArticleCreate, "reading_time_minutes"),
    (ArticleCreate, "image_count"),
    (ArticleCreate, "video_count"),
    (ComplianceEventCreate, "records_affected"),
    (AuditLogCreate, "request_size_bytes"),
    (AuditLogCreate, "response_size_bytes"),
    (AuditLogCreate, "response_time_ms"),
    *((QualityMetricCreate, f) for f in QUALITY_COUNTS),
    (QualityMetricCreate, "avg_data_age_hours"),
]


@pytest.mark.parametrize(("model", "field"), NON_NEGATIVE, ids=_id)
def test_counters_must_not_be_negative(model: ModelCls, field: str) -> None:
    assert getattr(build(model, **{field: 0}), field) == 0
    errors = rejected(model, valid_payload(model, **{field: -1}), field)
    assert errors[0]["type"] == "greater_than_equal"


def test_counters_default_to_zero() -> None:
    session = SessionCreate.model_validate(without(valid_payload(SessionCreate), *SESSION_COUNTERS))
    assert all(getattr(session, f) == 0 for f in SESSION_COUNTERS[:10])
    metric = QualityMetricCreate.model_validate(
        without(valid_payload(QualityMetricCreate), *QUALITY_COUNTS)
    )
    assert all(getattr(metric, f) == 0 for f in QUALITY_COUNTS)


def test_integers_fit_in_int64() -> None:
    assert build(QualityMetricCreate, total_records=2**63 - 1).total_records == 2**63 - 1
    rejected(
        QualityMetricCreate,
        valid_payload(QualityMetricCreate, total_records=2**63),
        "total_records",
    )


RATIOS = [
    *(
        (QualityMetricCreate, f)
        for f in (
            "null_percentage",
            "completeness_score",
            "accuracy_score",
            "invalid_percentage",
            "consistency_score",
            "duplicate_percentage",
            "validity_score",
            "timeliness_score",
            "uniqueness_score",
            "overall_quality_score",
        )
    ),
    (ModelPredictionCreate, "prediction_probability"),
    (ModelPredictionCreate, "prediction_confidence"),
]


@pytest.mark.parametrize(("model", "field"), RATIOS, ids=_id)
def test_ratios_are_between_0_and_1(model: ModelCls, field: str) -> None:
    assert getattr(build(model, **{field: 0}), field) == 0
    assert getattr(build(model, **{field: 1}), field) == 1
    rejected(model, valid_payload(model, **{field: 1.0001}), field)
    rejected(model, valid_payload(model, **{field: -0.0001}), field)
    rejected(model, valid_payload(model, **{field: float("nan")}), field)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_rejected(value: float) -> None:
    errors = rejected(
        ModelPredictionCreate,
        valid_payload(ModelPredictionCreate, prediction_value=value),
        "prediction_value",
    )
    assert errors[0]["type"] == "finite_number"


def test_scroll_depth_avg_is_a_percentage() -> None:
    assert build(SessionCreate, scroll_depth_avg=100).scroll_depth_avg == 100
    rejected(SessionCreate, valid_payload(SessionCreate, scroll_depth_avg=101), "scroll_depth_avg")
    rejected(SessionCreate, valid_payload(SessionCreate, scroll_depth_avg=-1), "scroll_depth_avg")


@pytest.mark.parametrize(("code", "ok"), [(99, False), (100, True), (599, True), (600, False)])
def test_status_code_range(code: int, ok: bool) -> None:
    payload = valid_payload(AuditLogCreate, status_code=code)
    if ok:
        assert AuditLogCreate.model_validate(payload).status_code == code
    else:
        rejected(AuditLogCreate, payload, "status_code")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_http_methods_accepted(method: str) -> None:
    assert build(AuditLogCreate, method=method).method == method


@pytest.mark.parametrize("method", ["get", "FETCH", "CONNECT", ""])
def test_other_http_methods_rejected(method: str) -> None:
    rejected(AuditLogCreate, valid_payload(AuditLogCreate, method=method), "method")


# URLs, countries, timezones, IP addresses ----------------------------------------------------

URL_FIELDS = [
    (UserEventCreate, "page_url"),
    (ArticleCreate, "content_url"),
    (ArticleCreate, "canonical_url"),
    (InternalContentCreate, "content_url"),
    (ComplianceEventCreate, "data_export_url"),
]


@pytest.mark.parametrize(("model", "field"), URL_FIELDS, ids=_id)
@pytest.mark.parametrize(
    "url", ["https://example.com", "http://example.com:8080/a/b?c=d&e=f#g", "HTTPS://EXAMPLE.COM/x"]
)
def test_http_urls_are_kept_as_plain_strings(model: ModelCls, field: str, url: str) -> None:
    value = getattr(build(model, **{field: url}), field)
    assert type(value) is str
    assert value == url


@pytest.mark.parametrize(("model", "field"), URL_FIELDS, ids=_id)
@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file",
        "javascript:alert(1)",
        "example.com/page",
        "https://",
        "http:///path",
        "https://exa mple.com",
        "https://example.com/" + "a" * 981,
    ],
)
def test_bad_urls_are_rejected(model: ModelCls, field: str, url: str) -> None:
    rejected(model, valid_payload(model, **{field: url}), field)


def test_url_of_exactly_1000_chars_is_accepted() -> None:
    url = "https://example.com/" + "a" * 980
    assert build(UserEventCreate, page_url=url).page_url == url


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (UserEventCreate, "country_code"),
        (SessionCreate, "country_code"),
        (ContentEventCreate, "country_code"),
    ],
    ids=_id,
)
def test_country_codes(model: ModelCls, field: str) -> None:
    assert getattr(build(model, **{field: "fr"}), field) == "FR"
    for bad in ["FRA", "F", "F1", "", "é1"]:
        rejected(model, valid_payload(model, **{field: bad}), field)


def test_country_code_lists() -> None:
    assert build(ArticleCreate, relevant_countries=["fr", "DE"]).relevant_countries == ["FR", "DE"]
    rejected(
        ArticleCreate,
        valid_payload(ArticleCreate, relevant_countries=["FRA"]),
        "relevant_countries",
    )
    rejected(
        InternalContentCreate,
        valid_payload(InternalContentCreate, target_countries=["12"]),
        "target_countries",
    )


@pytest.mark.parametrize("model", [UserEventCreate, SessionCreate], ids=_id)
def test_timezones_must_be_iana_names(model: ModelCls) -> None:
    for name in ["Europe/Paris", "America/Argentina/Buenos_Aires", "UTC"]:
        assert build(model, timezone=name).timezone == name
    for bad in ["Mars/Olympus_Mons", "America", "../../etc/passwd", "", "Europe/Paris" + "x" * 60]:
        errors = rejected(model, valid_payload(model, timezone=bad), "timezone")
        assert errors[0]["msg"]


@pytest.mark.parametrize("model", [SecurityEventCreate, AuditLogCreate], ids=_id)
def test_ip_addresses(model: ModelCls) -> None:
    assert build(model, ip_address="192.168.0.1").ip_address == "192.168.0.1"
    assert build(model, ip_address="2001:DB8:0:0::1").ip_address == "2001:db8::1"
    for bad in ["999.1.1.1", "not-an-ip", "1.2.3", "", "2001:db8::1::2"]:
        errors = rejected(model, valid_payload(model, ip_address=bad), "ip_address")
        assert "IPv4 or IPv6" in errors[0]["msg"]


# Cross-field rules ---------------------------------------------------------------------------


def test_session_end_must_not_be_before_start() -> None:
    start = "2025-03-14T08:00:00Z"
    assert build(SessionCreate, session_start=start, session_end=start).session_end is not None
    errors = rejected(
        SessionCreate,
        valid_payload(SessionCreate, session_start=start, session_end="2025-03-14T07:59:59Z"),
        "session_end",
    )
    assert "session_start" in errors[0]["msg"]


def test_session_end_is_compared_in_utc() -> None:
    session = build(
        SessionCreate, session_start="2025-03-14T08:00:00Z", session_end="2025-03-14T09:30:00+01:00"
    )
    assert session.session_end == datetime(2025, 3, 14, 8, 30, tzinfo=UTC)
    rejected(
        SessionCreate,
        valid_payload(
            SessionCreate,
            session_start="2025-03-14T08:00:00Z",
            session_end="2025-03-14T08:30:00+01:00",
        ),
        "session_end",
    )


def test_expiry_date_must_not_be_before_publish_date() -> None:
    same_day = build(
        InternalContentCreate, publish_time="2025-03-14T09:00:00Z", expiry_date="2025-03-14"
    )
    assert same_day.expiry_date == date(2025, 3, 14)
    errors = rejected(
        InternalContentCreate,
        valid_payload(
            InternalContentCreate, publish_time="2025-03-14T09:00:00Z", expiry_date="2025-03-13"
        ),
        "expiry_date",
    )
    assert "publish_date" in errors[0]["msg"]


@pytest.mark.parametrize(
    ("requested", "processed", "completed", "bad_field"),
    [
        ("2025-03-02T00:00:00Z", "2025-03-01T00:00:00Z", None, "processed_at"),
        (None, "2025-03-02T00:00:00Z", "2025-03-01T00:00:00Z", "completed_at"),
        ("2025-03-02T00:00:00Z", None, "2025-03-01T00:00:00Z", "completed_at"),
        ("2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z", "2025-03-02T00:00:00Z", "completed_at"),
    ],
)
def test_compliance_timestamps_are_ordered(
    requested: str | None, processed: str | None, completed: str | None, bad_field: str
) -> None:
    payload = valid_payload(
        ComplianceEventCreate,
        requested_at=requested,
        processed_at=processed,
        completed_at=completed,
    )
    rejected(ComplianceEventCreate, payload, bad_field)


def test_compliance_timestamps_may_be_equal_or_absent() -> None:
    moment = "2025-03-01T00:00:00Z"
    build(ComplianceEventCreate, requested_at=moment, processed_at=moment, completed_at=moment)
    build(ComplianceEventCreate, requested_at=None, processed_at=None, completed_at=None)


def test_optional_timestamps_are_utc() -> None:
    prediction = build(ModelPredictionCreate, actual_observed_at="2025-04-14T04:00:00+02:00")
    assert prediction.actual_observed_at == datetime(2025, 4, 14, 2, tzinfo=UTC)
    assert prediction.actual_observed_at.tzinfo is UTC
    article = build(
        ArticleCreate, last_updated_time=datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    )
    assert article.last_updated_time == datetime(2024, 12, 31, 19, tzinfo=UTC)


# Free-form dictionaries ----------------------------------------------------------------------


def nested(depth: int) -> dict[str, Any]:
    """A dict whose nesting depth (the top level counting as 1) is `depth`."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"child": value}
    return value


@pytest.mark.parametrize(("model", "field"), FREE_DICT_FIELDS, ids=_id)
def test_free_dict_fields_enforce_depth(model: ModelCls, field: str) -> None:
    assert getattr(build(model, **{field: nested(5)}), field) == nested(5)
    errors = rejected(model, valid_payload(model, **{field: nested(6)}), field)
    assert "deeper than 5" in errors[0]["msg"]


def test_free_dict_lists_count_as_a_level() -> None:
    build(UserEventCreate, metadata={"a": [[[[1]]]]})
    errors = rejected(
        UserEventCreate, valid_payload(UserEventCreate, metadata={"a": [[[[[1]]]]]}), "metadata"
    )
    assert "deeper than 5" in errors[0]["msg"]


def test_free_dict_key_count_per_level() -> None:
    hundred = {f"k{i}": i for i in range(100)}
    build(UserEventCreate, metadata=hundred)
    build(UserEventCreate, metadata={"a": hundred})
    errors = rejected(
        UserEventCreate, valid_payload(UserEventCreate, metadata={**hundred, "x": 1}), "metadata"
    )
    assert "at most 100" in errors[0]["msg"]
    errors = rejected(
        UserEventCreate,
        valid_payload(UserEventCreate, metadata={"a": {**hundred, "x": 1}}),
        "metadata",
    )
    assert "more than 100 keys" in errors[0]["msg"]


def test_free_dict_key_length() -> None:
    build(UserEventCreate, metadata={"k" * 100: 1, "a": {"k" * 100: 1}})
    rejected(UserEventCreate, valid_payload(UserEventCreate, metadata={"k" * 101: 1}), "metadata")
    errors = rejected(
        UserEventCreate, valid_payload(UserEventCreate, metadata={"a": {"k" * 101: 1}}), "metadata"
    )
    assert "at most 100 characters" in errors[0]["msg"]


def test_free_dict_total_size() -> None:
    build(UserEventCreate, metadata={"blob": "x" * 60_000})
    errors = rejected(
        UserEventCreate,
        valid_payload(UserEventCreate, metadata={f"k{i}": "x" * 1000 for i in range(70)}),
        "metadata",
    )
    assert "65536 bytes" in errors[0]["msg"]


@pytest.mark.parametrize(
    "value",
    [{1, 2}, (1, 2), datetime(2025, 1, 1), b"bytes", float("nan"), object()],
    ids=lambda v: type(v).__name__,
)
def test_free_dict_values_must_be_json(value: Any) -> None:
    rejected(
        UserEventCreate, valid_payload(UserEventCreate, metadata={"a": {"b": value}}), "metadata"
    )
    rejected(
        UserEventCreate,
        valid_payload(UserEventCreate, engagement_metrics={"b": value}),
        "engagement_metrics",
    )


def test_free_dict_list_items_are_checked() -> None:
    build(SessionCreate, page_events=[nested(5)])
    rejected(
        SessionCreate, valid_payload(SessionCreate, page_events=[{}, nested(6)]), "page_events"
    )


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
keys = st.text(max_size=100)


def json_tree(depth: int) -> st.SearchStrategy[Any]:
    """JSON values whose containers nest at most `depth` levels."""
    if depth == 0:
        return json_scalars
    inner = json_tree(depth - 1)
    return json_scalars | st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, json_tree(4), max_size=8))
def test_free_dict_within_bounds_round_trips(value: dict[str, Any]) -> None:
    instance = build(UserEventCreate, metadata=value)
    assert instance.metadata == value
    assert UserEventCreate.model_validate_json(instance.model_dump_json()) == instance


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=200), st.integers(min_value=1, max_value=4))
def test_free_dict_key_bound_at_any_level(count: int, level: int) -> None:
    value: dict[str, Any] = {f"k{i}": i for i in range(count)}
    for _ in range(level - 1):
        value = {"n": value}
    payload = valid_payload(AuditLogCreate, request_data=value)
    if count <= 100:
        AuditLogCreate.model_validate(payload)
    else:
        rejected(AuditLogCreate, payload, "request_data")


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=9))
def test_free_dict_depth_bound(depth: int) -> None:
    payload = valid_payload(ModelPredictionCreate, input_features=nested(depth))
    if depth <= 5:
        ModelPredictionCreate.model_validate(payload)
    else:
        rejected(ModelPredictionCreate, payload, "input_features")


@by_name
def test_every_field_has_a_description(model: ModelCls) -> None:
    properties = model.model_json_schema()["properties"]
    for name, field in model.model_fields.items():
        assert field.description, name
        assert properties[name]["description"] == field.description
        assert "\n" not in field.description


# Validators that cannot escape, limits that hold ---------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_a_timestamp_outside_the_range_in_utc_is_a_validation_error(value: Any) -> None:
    errors = rejected(
        UserEventCreate, valid_payload(UserEventCreate, event_timestamp=value), "event_timestamp"
    )
    assert errors[0]["type"] == "value_error"
    assert "1-9999" in errors[0]["msg"]


@pytest.mark.parametrize(
    "value", ["2025-03-14T09:00:00Z", "2025-03-14T09:00:00+00:00", "2025-03-14T09:00:00-00:00"]
)
def test_a_zero_offset_is_utc_already(value: str) -> None:
    stamp = build(UserEventCreate, event_timestamp=value).event_timestamp
    assert stamp.utcoffset() == timedelta(0)
    assert stamp == datetime(2025, 3, 14, 9, tzinfo=UTC)
    assert UserEventCreate.model_validate_json(build(UserEventCreate).model_dump_json())


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ({"blob": "\x00" * 10_920}, True),  # escaped as \u0000: six bytes each
        ({"blob": "\x00" * 10_925}, False),
        ({"blob": "😀" * 16_380}, True),  # four UTF-8 bytes each
        ({"blob": "😀" * 16_384}, False),
        ({f"k{i}": 10**1000 for i in range(60)}, True),
        ({f"k{i}": 10**1000 for i in range(70)}, False),  # numbers count too
        ({"a": {"b": ["x" * 1000] * 66}}, False),  # and nested values
        ({f"a{i}": [1.2345678901234567e-300] * 1000 for i in range(3)}, False),
    ],
    ids=[
        "nul-ok",
        "nul-over",
        "emoji-ok",
        "emoji-over",
        "ints-ok",
        "ints-over",
        "nested",
        "floats",
    ],
)
def test_free_dict_size_counts_utf8_bytes_of_the_whole_json(
    value: dict[str, Any], ok: bool
) -> None:
    payload = valid_payload(UserEventCreate, metadata=value)
    if ok:
        assert build(UserEventCreate, metadata=value).metadata == value
    else:
        errors = rejected(UserEventCreate, payload, "metadata")
        assert "exceeds the limit of 65536 bytes" in errors[0]["msg"]


def test_free_dict_size_bound_is_exact() -> None:
    filler = len(json.dumps({"blob": ""}, separators=(",", ":")))
    exact = {"blob": "x" * (65_536 - filler)}
    assert build(UserEventCreate, metadata=exact).metadata == exact
    rejected(
        UserEventCreate,
        valid_payload(UserEventCreate, metadata={"blob": "x" * (65_537 - filler)}),
        "metadata",
    )


def test_a_10000_deep_dict_is_a_clean_validation_error() -> None:
    errors = rejected(
        UserEventCreate, valid_payload(UserEventCreate, metadata=nested(10_000)), "metadata"
    )
    assert "deeper than 5" in errors[0]["msg"]


def test_free_dict_messages_name_no_key_or_value() -> None:
    secret = "secret-key@example.com"
    for value in [
        {secret * 5: 1},
        {"a": {secret * 5: 1}},
        {"a": {secret}},
        {"a": nested(6) | {secret: 1}},
    ]:
        for error in rejected(
            UserEventCreate, valid_payload(UserEventCreate, metadata=value), "metadata"
        ):
            assert secret not in error["msg"]


@pytest.mark.parametrize(
    "name", ["Europe/Paris\x00", "../" * 20, "a" * 64, "\udcff", "tzdata", "__init__"]
)
def test_odd_timezone_names_are_validation_errors(name: str) -> None:
    rejected(UserEventCreate, valid_payload(UserEventCreate, timezone=name), "timezone")


# Headers never raise --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            [
                ("schema_version", b"3"),
                ("producer", b"p"),
                ("produced_at", b"2025-03-14T09:00:00+01:00"),
            ],
            (datetime(2025, 3, 14, 8, tzinfo=UTC), "p", 3),
        ),
        (
            [("produced_at", b"2025-03-14T09:00:00")],
            (datetime(2025, 3, 14, 9, tzinfo=UTC), None, None),
        ),
        ([("schema_version", "²".encode())], (None, None, None)),  # isdigit() but not int()
        ([("schema_version", "١٢".encode())], (None, None, None)),  # Arabic-Indic digits
        ([("schema_version", b"2147483648")], (None, None, None)),
        ([("schema_version", b"-1"), ("produced_at", b"yesterday")], (None, None, None)),
        ([("producer", b"\xff\xfe"), ("produced_at", b"\xff")], (None, None, None)),
        ([("schema_version", None), ("produced_at", b"")], (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_metadata_headers_never_raise(headers: Any, expected: tuple[Any, ...]) -> None:
    metadata = EventMetadata.from_headers(headers)
    assert (metadata.produced_at, metadata.producer, metadata.schema_version) == expected


def test_metadata_of_malformed_headers_is_empty() -> None:
    metadata = EventMetadata.from_headers(cast(Any, [("schema_version",), 5]))
    assert metadata == EventMetadata(None, None, None)


@by_name
def test_derived_dates_and_ordering_rules_name_earlier_fields(model: ModelCls) -> None:
    """pydantic passes only earlier fields to a rule (`info.data`): a later source would be
    silently ignored (or, for a derived default, raise KeyError)."""
    names = list(model.model_fields)
    for index, (name, field) in enumerate(model.model_fields.items()):
        factory = field.default_factory
        sources = [factory.source] if isinstance(factory, DateOf) else []
        for rule in _rules(field.annotation, field.metadata):
            sources += [rule.source] if isinstance(rule, AgreesWith) else list(rule.sources)
        for source in sources:
            assert source in names[:index], f"{name} refers to {source}, not declared before"


def _rules(annotation: Any, metadata: list[Any]) -> list[Any]:
    found = [
        m.func for m in metadata if isinstance(getattr(m, "func", None), AgreesWith | NotBefore)
    ]
    for arg in typing.get_args(annotation):
        extras = list(arg.__metadata__) if hasattr(arg, "__metadata__") else []
        found += _rules(arg, extras)
    return found
