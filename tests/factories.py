"""Valid, JSON-compatible payloads for each event model (fresh ids on every call)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

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

Payload = dict[str, Any]


def _id() -> str:
    return str(uuid4())


def _anchor(overrides: Payload, field: str, default: datetime) -> datetime:
    """The overridden timestamp `field` if it can be read, so dependent fields can follow it."""
    value = overrides.get(field, default)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return default
    if not isinstance(value, datetime):
        return default
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _scope() -> Payload:
    return {
        "company_id": _id(),
        "brand_id": _id(),
        "metadata": {"source": "factory", "producer": {"name": "tests", "version": 1}},
    }


def _user_event(overrides: Payload) -> Payload:
    return {
        "event_id": _id(),
        "user_id": _id(),
        "session_id": _id(),
        "event_type": "article_view",
        "event_timestamp": "2025-03-14T09:26:53.589000Z",
        "article_id": "art-2025-0314-001",
        "article_title": "City council approves new tram line",
        "article_type": "news",
        "category_id": _id(),
        "page_url": "https://www.example-news.com/local/tram-line?utm_source=home",
        "country_code": "FR",
        "city_id": _id(),
        "timezone": "Europe/Paris",
        "device_type_id": _id(),
        "os_id": _id(),
        "browser_id": _id(),
        "engagement_metrics": {"scroll_depth": 72, "time_on_page": 48.5, "clicked_links": 2},
    }


def _session(overrides: Payload) -> Payload:
    start = _anchor(overrides, "session_start", datetime(2025, 3, 14, 8, tzinfo=UTC))
    return {
        "session_id": _id(),
        "user_id": _id(),
        "account_id": _id(),
        "country_code": "DE",
        "city_id": _id(),
        "timezone": "Europe/Berlin",
        "device_type_id": _id(),
        "os_id": _id(),
        "browser_id": _id(),
        "referrer": "https://www.google.com/",
        "user_segment": "loyal_reader",
        "subscription_tier": "premium",
        "session_start": _iso(start),
        "session_end": _iso(start + timedelta(seconds=750)),
        "session_duration_sec": 750,
        "total_events": 14,
        "article_views": 4,
        "article_clicks": 3,
        "video_plays": 1,
        "newsletter_signups": 0,
        "ad_clicks": 1,
        "searches": 2,
        "pages_visited_count": 6,
        "unique_pages_count": 5,
        "unique_categories_count": 3,
        "categories_visited": ["politics", "sport", "culture"],
        "article_ids_visited": ["art-1", "art-2", "art-3", "art-4"],
        "article_titles_visited": ["Budget vote delayed", "Derby ends in a draw"],
        "page_events": [
            {"type": "page_view", "path": "/politics", "at": "2025-03-14T08:00:05Z"},
            {"type": "scroll", "path": "/politics/budget", "depth": 80},
        ],
        "engagement_score": 7.25,
        "scroll_depth_avg": 64,
        "time_on_page_avg": 95,
        "batch_id": _id(),
    }


def _content_event(overrides: Payload) -> Payload:
    return {
        "event_id": _id(),
        "article_id": _id(),
        "user_id": _id(),
        "event_type": "share",
        "event_timestamp": "2025-03-14T10:15:00Z",
        "category_id": _id(),
        "author_id": _id(),
        "country_code": "BE",
        "city_id": _id(),
        "device_type_id": _id(),
        "os_id": _id(),
        "browser_id": _id(),
        "referrer": "https://t.co/abc123",
        "referrer_type": "social",
        "engagement_metrics": {"channel": "twitter", "time_on_page": 31},
    }


def _article(overrides: Payload) -> Payload:
    return {
        "article_id": _id(),
        "external_article_id": "cms-88412",
        "title": "How the new tram line will change the commute",
        "headline": "Tram line approved",
        "subtitle": "Construction starts in the autumn",
        "summary": "The council voted 31 to 12 in favour of the eastern extension.",
        "content_url": "https://www.example-news.com/local/tram-line",
        "article_type": "analysis",
        "primary_author_id": _id(),
        "co_author_ids": [_id(), _id()],
        "primary_category_id": _id(),
        "secondary_category_ids": [_id()],
        "tags": ["transport", "city-council", "tram"],
        "word_count": 1240,
        "reading_time_minutes": 6,
        "image_count": 3,
        "video_count": 1,
        "publish_time": "2025-03-14T06:30:00Z",
        "last_updated_time": "2025-03-14T07:05:00Z",
        "status": "published",
        "meta_description": "The eastern tram extension was approved on Friday.",
        "meta_keywords": ["tram", "transport", "council"],
        "canonical_url": "https://www.example-news.com/local/tram-line",
        "relevant_countries": ["FR"],
        "relevant_cities": [_id()],
    }


def _internal_content(overrides: Payload) -> Payload:
    published = _anchor(overrides, "publish_time", datetime(2025, 3, 14, 9, tzinfo=UTC))
    return {
        "content_id": _id(),
        "title": "New hybrid-work policy",
        "content_type": "policy",
        "summary": "Two office days a week from April.",
        "content_body": "From 1 April, every team agrees on two shared office days a week.",
        "content_url": "https://intranet.example.com/policies/hybrid-work",
        "author_employee_id": _id(),
        "author_department_id": _id(),
        "department_id": _id(),
        "category_id": _id(),
        "tags": ["policy", "hr"],
        "publish_time": _iso(published),
        "expiry_date": (published.astimezone(UTC) + timedelta(days=180)).date().isoformat(),
        "status": "published",
        "target_departments": [_id(), _id()],
        "target_employee_levels": ["staff", "manager"],
        "target_countries": ["FR", "DE"],
        "is_company_wide": True,
        "priority_level": "high",
        "is_important": True,
    }


def _security_event(overrides: Payload) -> Payload:
    return {
        "event_id": _id(),
        "user_id": _id(),
        "ip_address": "203.0.113.42",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0",
        "event_type": "LOGIN_FAILED",
        "event_severity": "WARNING",
        "description": "Wrong password",
        "success": False,
        "failure_reason": "invalid_credentials",
        "event_timestamp": "2025-03-14T11:42:10Z",
        "session_id": _id(),
        "event_data": {"attempt": 3, "mfa": False},
    }


def _compliance_event(overrides: Payload) -> Payload:
    return {
        "event_id": _id(),
        "compliance_type": "GDPR_ACCESS_REQUEST",
        "event_type": "COMPLETED",
        "description": "Subject access request answered",
        "user_id": _id(),
        "requested_by": _id(),
        "processed_by": _id(),
        "resource_type": "user_profile",
        "resource_ids": [_id(), _id()],
        "data_scope": {"tables": ["users", "sessions"], "since": "2023-01-01"},
        "status": "COMPLETED",
        "status_message": "Export delivered",
        "requested_at": "2025-03-01T10:00:00Z",
        "processed_at": "2025-03-02T09:30:00Z",
        "completed_at": "2025-03-02T09:45:00Z",
        "event_timestamp": "2025-03-02T09:45:01Z",
        "records_affected": 1834,
        "data_export_url": "https://exports.example.com/sar/abc123.zip",
    }


def _audit_log(overrides: Payload) -> Payload:
    return {
        "log_id": _id(),
        "user_id": _id(),
        "api_key_id": _id(),
        "session_id": _id(),
        "action": "UPDATE",
        "resource_type": "article",
        "resource_id": _id(),
        "resource_identifier": "cms-88412",
        "ip_address": "2001:db8::1",
        "user_agent": "ownlens-cms/2.3",
        "endpoint": "/api/v1/articles/cms-88412",
        "method": "PATCH",
        "event_timestamp": "2025-03-14T07:05:00Z",
        "success": True,
        "status_code": 200,
        "request_data": {"fields": ["title", "summary"]},
        "response_data": {"version": 7},
        "request_size_bytes": 512,
        "response_size_bytes": 2048,
        "response_time_ms": 38,
    }


def _quality_metric(overrides: Payload) -> Payload:
    return {
        "metric_id": _id(),
        "table_name": "customer_user_events",
        "column_name": "page_url",
        "domain": "customer",
        "metric_date": "2025-03-13",
        "total_records": 125_000,
        "null_count": 1_250,
        "invalid_count": 40,
        "duplicate_count": 12,
        "out_of_range_count": 0,
        "format_errors": 40,
        "stale_records": 300,
        "unique_count": 98_000,
        "null_percentage": 0.01,
        "completeness_score": 0.99,
        "accuracy_score": 0.995,
        "invalid_percentage": 0.00032,
        "consistency_score": 0.98,
        "duplicate_percentage": 0.0001,
        "validity_score": 0.9997,
        "timeliness_score": 0.97,
        "uniqueness_score": 0.784,
        "overall_quality_score": 0.96,
        "avg_data_age_hours": 3.5,
        "quality_grade": "A",
    }


def _model_prediction(overrides: Payload) -> Payload:
    return {
        "prediction_id": _id(),
        "model_id": _id(),
        "prediction_type": "churn",
        "entity_id": _id(),
        "entity_type": "user",
        "prediction_value": 0.83,
        "prediction_probability": 0.83,
        "prediction_class": "will_churn",
        "prediction_confidence": 0.91,
        "input_features": {"days_since_last_visit": 12, "sessions_30d": 3, "tier": "free"},
        "actual_value": 1.0,
        "actual_class": "will_churn",
        "is_correct": True,
        "predicted_at": "2025-03-14T02:00:00Z",
        "actual_observed_at": "2025-04-14T02:00:00Z",
        "batch_id": _id(),
    }


_BUILDERS: dict[type[EventModel], Callable[[Payload], Payload]] = {
    UserEventCreate: _user_event,
    SessionCreate: _session,
    ContentEventCreate: _content_event,
    ArticleCreate: _article,
    InternalContentCreate: _internal_content,
    SecurityEventCreate: _security_event,
    ComplianceEventCreate: _compliance_event,
    AuditLogCreate: _audit_log,
    QualityMetricCreate: _quality_metric,
    ModelPredictionCreate: _model_prediction,
}

MODELS: tuple[type[EventModel], ...] = tuple(_BUILDERS)


def valid_payload(model_cls: type[EventModel], **overrides: Any) -> Payload:
    """A valid payload for `model_cls`, with `overrides` applied on top.

    Derived dates are left out, and fields bound to an overridden timestamp (session_end,
    expiry_date) follow it, so overriding a timestamp alone keeps the payload valid.
    """
    try:
        builder = _BUILDERS[model_cls]
    except KeyError:
        raise TypeError(f"no factory for {model_cls.__name__}") from None
    return {**_scope(), **builder(overrides), **overrides}
