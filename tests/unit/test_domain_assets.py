"""Domain assets on Delta tables: known raw rows in, exact analyst tables out (no Kafka)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import dagster as dg
import pytest

from ownlens_kafka.consumer import ConsumedEvent
from ownlens_kafka.streams import STREAMS, get_stream
from ownlens_pipelines.assets.domain import (
    DOMAIN_ASSETS,
    FRESH,
    DomainAssetSpec,
    domain_assets,
    domain_key,
)
from ownlens_pipelines.resources import WarehouseResource
from ownlens_pipelines.schema import events_table
from ownlens_pipelines.warehouse import Warehouse
from tests.factories import valid_payload

COMPANY = UUID(int=0xC0)
BRAND = UUID(int=0xB0)
U1, U2, U3 = UUID(int=1), UUID(int=2), UUID(int=3)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write(path: Path, stream: str, payloads: list[dict[str, Any]]) -> None:
    """Validate the payloads with the stream's model and write them to `raw.<stream>`."""
    spec = get_stream(stream)
    events = [spec.model.model_validate(p) for p in payloads]
    warehouse = Warehouse(str(path))
    first = warehouse.recorded(spec, "t", None, [0]).get(0, -1) + 1  # after earlier writes
    items = [
        ConsumedEvent(
            event=e, key=spec.key_of(e), topic="t", partition=0, offset=first + i, headers=[]
        )
        for i, e in enumerate(events)
    ]
    warehouse.write_raw(spec, events_table(spec.model, items))


def payload(stream: str, **overrides: Any) -> dict[str, Any]:
    scope = {"company_id": str(COMPANY), "brand_id": str(BRAND)}
    return valid_payload(get_stream(stream).model, **scope, **overrides)


def spec_named(name: str) -> DomainAssetSpec:
    return next(spec for spec in DOMAIN_ASSETS if spec.name == name)


def materialize(path: Path, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Materialize the asset; its table's rows as dicts (in table order) and its metadata."""
    spec = spec_named(name)
    result = dg.materialize(
        domain_assets(),
        selection=[domain_key(spec)],
        resources={"warehouse": WarehouseResource(root=str(path))},
    )
    assert result.success
    [event] = result.get_asset_materialization_events()  # only the selected table
    metadata = dict(event.materialization.metadata)
    with Warehouse(str(path)).connect() as connection:
        cursor = connection.execute(f"SELECT * FROM {spec.table}")
        names = [d[0] for d in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return rows, metadata


def pick(rows: list[dict[str, Any]], *columns: str) -> list[tuple[Any, ...]]:
    return [tuple(row[c] for c in columns) for row in rows]


def test_every_domain_has_an_asset_and_names_are_unique() -> None:
    assert {spec.domain for spec in DOMAIN_ASSETS} >= {spec.domain for spec in STREAMS}
    names = [(spec.domain, spec.name) for spec in DOMAIN_ASSETS]
    assert len(names) == len(set(names))
    for spec in DOMAIN_ASSETS:
        assert all(get_stream(stream) for stream in spec.deps)
        assert spec.description and "\n" not in spec.description


def test_assets_are_declared_from_the_table() -> None:
    [asset] = domain_assets()  # one multi-asset: one run, one step, one connection for all
    assert asset.can_subset and "warehouse" in asset.required_resource_keys
    assert set(asset.keys) == {dg.AssetKey([s.domain, s.name]) for s in DOMAIN_ASSETS}
    for spec in DOMAIN_ASSETS:
        key = dg.AssetKey([spec.domain, spec.name])
        assert asset.group_names_by_key[key] == spec.domain
        assert asset.descriptions_by_key[key] == spec.description
        assert set(asset.asset_deps[key]) == {dg.AssetKey(["raw", s]) for s in spec.deps}
        assert asset.specs_by_key[key].kinds == {"deltalake", "duckdb"}
        assert asset.automation_conditions_by_key[key] == FRESH


@pytest.mark.parametrize("spec", DOMAIN_ASSETS, ids=[s.name for s in DOMAIN_ASSETS])
def test_every_column_has_a_description(spec: DomainAssetSpec, tmp_path: Path) -> None:
    with Warehouse(str(tmp_path)).connect() as connection:  # every raw table, empty
        columns = [row[0] for row in connection.execute(f"DESCRIBE {spec.sql}").fetchall()]
    assert list(spec.columns) == columns  # described, in the table's order
    assert all(text.strip() and text.endswith(".") for text in spec.columns.values())


@pytest.mark.parametrize("spec", DOMAIN_ASSETS, ids=[s.name for s in DOMAIN_ASSETS])
def test_sql_on_empty_raw_tables_gives_no_rows(spec: DomainAssetSpec, tmp_path: Path) -> None:
    with Warehouse(str(tmp_path)).connect() as connection:  # every raw table, empty
        assert connection.execute(spec.sql).fetchall() == []


def test_all_assets_materialize_before_any_raw_table_exists(tmp_path: Path) -> None:
    resources = {"warehouse": WarehouseResource(root=str(tmp_path))}
    result = dg.materialize(domain_assets(), resources=resources)
    events = result.get_asset_materialization_events()
    assert len(events) == len(DOMAIN_ASSETS)
    assert {e.materialization.metadata["dagster/row_count"].value for e in events} == {0}


def test_daily_engagement(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    s1, s2, s3, s4 = UUID(int=11), UUID(int=12), UUID(int=13), UUID(int=14)

    def event(user: UUID, session: UUID, kind: str, when: str, **metrics: Any) -> dict[str, Any]:
        return payload(
            "user_events",
            user_id=str(user),
            session_id=str(session),
            event_type=kind,
            event_timestamp=when,
            engagement_metrics=metrics,
        )

    first = event(U1, s1, "article_view", "2025-03-14T09:00:00Z", scroll_depth=80, time_on_page=40)
    write(
        path,
        "user_events",
        [
            first,
            event(U1, s1, "article_click", "2025-03-14T09:01:00Z"),
            event(U2, s2, "article_view", "2025-03-14T23:59:00Z", scroll_depth=40, time_on_page=20),
            event(U2, s2, "ad_click", "2025-03-14T23:59:30Z"),
            first,  # redelivered: counted once
            event(U1, s3, "page_view", "2025-03-15T00:10:00Z", scroll_depth="n/a"),
        ],
    )

    def session(id_: UUID, user: UUID, start: str, seconds: int) -> dict[str, Any]:
        return payload(
            "sessions",
            session_id=str(id_),
            user_id=str(user),
            session_start=start,
            session_duration_sec=seconds,
        )

    write(
        path,
        "sessions",
        [
            session(s1, U1, "2025-03-14T08:59:00Z", 600),
            session(s2, U2, "2025-03-14T23:50:00Z", 300),
            session(s4, U3, "2025-03-16T10:00:00Z", 100),
        ],
    )
    rows, metadata = materialize(path, "daily_engagement")
    columns = (
        "day",
        "events",
        "unique_users",
        "active_sessions",
        "sessions_started",
        "article_views",
        "article_clicks",
        "ad_clicks",
        "avg_scroll_depth",
        "avg_time_on_page_sec",
        "avg_session_duration_sec",
    )
    assert pick(rows, *columns) == [
        (date(2025, 3, 14), 4, 2, 2, 2, 2, 1, 1, 60.0, 30.0, 450.0),
        (date(2025, 3, 15), 1, 1, 1, 0, 0, 0, 0, None, None, None),
        (date(2025, 3, 16), 0, 0, 0, 1, 0, 0, 0, None, None, 100.0),
    ]
    assert {(r["company_id"], r["brand_id"]) for r in rows} == {(str(COMPANY), str(BRAND))}
    assert metadata["dagster/row_count"].value == 3
    columns = metadata["dagster/column_schema"].schema.columns
    schema = {c.name: c.type for c in columns}
    assert schema["day"] == "DATE" and schema["events"] == "BIGINT"
    assert {c.name: c.description for c in columns} == spec_named("daily_engagement").columns
    preview = metadata["preview"].value
    assert preview.splitlines()[0].startswith("| company_id | brand_id | day | events |")
    assert len(preview.splitlines()) == 2 + 3


def test_article_performance(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    a1, a2 = UUID(int=101), UUID(int=102)
    write(
        path,
        "articles",
        [
            payload("articles", article_id=str(a1), title="Tram line: first draft"),
            payload("articles", article_id=str(a1), title="Tram line approved"),  # an update
        ],
    )

    def event(article: UUID, kind: str, user: UUID, day: int) -> dict[str, Any]:
        return payload(
            "content_events",
            article_id=str(article),
            event_type=kind,
            user_id=str(user),
            event_timestamp=f"2025-03-{day}T10:00:00Z",
        )

    write(
        path,
        "content_events",
        [
            event(a1, "article_view", U1, 14),
            event(a1, "article_view", U2, 14),
            event(a1, "article_click", U1, 14),
            event(a1, "share", U3, 14),
            event(a1, "comment", U1, 14),
            event(a1, "like", U1, 14),
            event(a2, "article_view", U2, 14),
            event(a1, "share", U2, 15),
        ],
    )
    rows, _ = materialize(path, "article_performance")
    columns = (
        "day",
        "article_id",
        "title",
        "views",
        "clicks",
        "shares",
        "comments",
        "likes",
        "bookmarks",
        "unique_users",
    )
    assert pick(rows, *columns) == [
        (date(2025, 3, 14), str(a1), "Tram line approved", 2, 1, 1, 1, 1, 0, 3),
        (date(2025, 3, 14), str(a2), None, 1, 0, 0, 0, 0, 0, 1),
        (date(2025, 3, 15), str(a1), "Tram line approved", 0, 0, 1, 0, 0, 0, 1),
    ]


def test_internal_content_reach(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    d1, d2, d3 = UUID(int=201), UUID(int=202), UUID(int=203)

    def content(priority: str, wide: bool, departments: list[UUID] | None) -> dict[str, Any]:
        return payload(
            "internal_content",
            content_type="policy",
            priority_level=priority,
            status="published",
            publish_time="2025-03-14T09:00:00Z",
            is_company_wide=wide,
            is_important=False,
            target_departments=None if departments is None else [str(d) for d in departments],
        )

    write(
        path,
        "internal_content",
        [
            content("high", True, [d1, d2]),
            content("high", False, [d2, d3]),
            content("high", False, None),
            content("low", False, []),
        ],
    )
    rows, _ = materialize(path, "internal_content_reach")
    columns = ("publish_date", "priority_level", "contents", "company_wide", "targeted_departments")
    assert pick(rows, *columns) == [
        (date(2025, 3, 14), "high", 3, 1, 3),
        (date(2025, 3, 14), "low", 1, 0, 0),
    ]


def test_security_incidents(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    ip1, ip2 = "203.0.113.42", "198.51.100.7"

    def event(kind: str, severity: str, when: str, ip: str = ip1) -> dict[str, Any]:
        return payload(
            "security_events",
            user_id=str(U1),
            ip_address=ip,
            event_type=kind,
            event_severity=severity,
            success=kind == "LOGIN_SUCCESS",
            event_timestamp=when,
        )

    write(
        path,
        "security_events",
        [
            event("LOGIN_FAILED", "WARNING", "2025-03-14T11:05:00Z"),
            event("LOGIN_FAILED", "ERROR", "2025-03-14T11:20:00Z"),
            event("LOGIN_SUCCESS", "INFO", "2025-03-14T11:30:00Z"),
            event("SUSPICIOUS_ACTIVITY", "CRITICAL", "2025-03-14T11:50:00Z"),
            event("LOGIN_FAILED", "WARNING", "2025-03-14T12:10:00Z"),
            event("LOGIN_FAILED", "INFO", "2025-03-14T11:15:00Z", ip=ip2),
            event("PERMISSION_DENIED", "ERROR", "2025-03-14T13:00:00Z"),
        ],
    )
    rows, metadata = materialize(path, "incidents")
    columns = (
        "ip_address",
        "window_start",
        "window_end",
        "incidents",
        "failed_logins",
        "suspicious_activities",
        "first_seen",
        "last_seen",
        "max_severity",
    )
    t = at
    assert pick(rows, *columns) == [
        (ip1, t("2025-03-14T11:00"), t("2025-03-14T12:00"), 3, 2, 1,
         t("2025-03-14T11:05"), t("2025-03-14T11:50"), "CRITICAL"),
        (ip2, t("2025-03-14T11:00"), t("2025-03-14T12:00"), 1, 1, 0,
         t("2025-03-14T11:15"), t("2025-03-14T11:15"), "INFO"),
        (ip1, t("2025-03-14T12:00"), t("2025-03-14T13:00"), 1, 1, 0,
         t("2025-03-14T12:10"), t("2025-03-14T12:10"), "WARNING"),
    ]  # fmt: skip
    assert {r["user_id"] for r in rows} == {str(U1)}  # UUIDs are text in Delta
    schema = {c.name: c.type for c in metadata["dagster/column_schema"].schema.columns}
    assert schema["window_start"] == "TIMESTAMP WITH TIME ZONE"


def test_compliance_request_sla_pairs_steps_of_one_request(tmp_path: Path) -> None:
    path = tmp_path / "lake"

    def step(
        kind: str,
        user: UUID,
        requested: str | None,
        when: str,
        *,
        compliance: str = "GDPR_ACCESS_REQUEST",
        status: str = "PROCESSING",
        completed: str | None = None,
    ) -> dict[str, Any]:
        return payload(
            "compliance_events",
            compliance_type=compliance,
            event_type=kind,
            user_id=str(user),
            status=status,
            requested_at=requested,
            processed_at=None,
            completed_at=completed,
            event_timestamp=when,
        )

    r1, r2, r3, r4 = (
        "2025-03-01T10:00:00Z",
        "2025-03-02T00:00:00Z",
        "2025-03-05T00:00:00Z",
        "2025-03-06T00:00:00Z",
    )
    write(
        path,
        "compliance_events",
        [
            # 10 h: request, processing, completion all carry requested_at
            step("REQUEST", U1, r1, r1, status="PENDING"),
            step("PROCESSED", U1, r1, "2025-03-01T12:00:00Z"),
            step("COMPLETED", U1, r1, "2025-03-01T20:00:05Z", completed="2025-03-01T20:00:00Z"),
            # 30 h: the REQUEST step has no requested_at, its timestamp is the request time
            step("REQUEST", U2, None, r2, status="PENDING"),
            step("COMPLETED", U2, r2, "2025-03-03T06:00:00Z", status="COMPLETED"),
            # the same subject again: a second request of U1, still open
            step("REQUEST", U1, r3, r3, status="PENDING"),
            step("REQUEST", U3, r4, r4, status="PENDING"),
            step("FAILED", U3, r4, "2025-03-06T01:00:00Z", status="FAILED"),
            # another type at the same moment for U1: a separate request, REQUEST step unseen
            step(
                "COMPLETED",
                U1,
                r1,
                "2025-03-01T12:00:00Z",
                compliance="GDPR_DELETION_REQUEST",
                completed="2025-03-01T12:00:00Z",
            ),
        ],
    )
    rows, _ = materialize(path, "request_sla")
    columns = (
        "compliance_type",
        "requests",
        "completed",
        "failed",
        "open_requests",
        "median_hours_to_complete",
        "p95_hours_to_complete",
    )
    assert pick(rows, *columns) == [
        ("GDPR_ACCESS_REQUEST", 4, 2, 1, 1, pytest.approx(20.0), pytest.approx(29.0)),
        ("GDPR_DELETION_REQUEST", 1, 1, 0, 0, pytest.approx(2.0), pytest.approx(2.0)),
    ]


def test_audit_activity(tmp_path: Path) -> None:
    path = tmp_path / "lake"

    def log(user: UUID, success: bool, ms: int | None, action: str = "READ") -> dict[str, Any]:
        return payload(
            "audit_logs",
            user_id=str(user),
            action=action,
            resource_type="article",
            success=success,
            status_code=200 if success else 500,
            response_time_ms=ms,
            event_timestamp="2025-03-14T07:05:00Z",
        )

    write(
        path,
        "audit_logs",
        [
            log(U1, True, 10),
            log(U1, True, 20),
            log(U2, False, 30),
            log(U2, True, 40),
            log(U3, True, None, action="EXPORT"),
        ],
    )
    rows, _ = materialize(path, "activity")
    columns = ("day", "action", "requests", "failures", "error_rate", "p95_response_time_ms")
    assert pick(rows, *columns) == [
        (date(2025, 3, 14), "EXPORT", 1, 0, 0.0, None),
        (date(2025, 3, 14), "READ", 4, 1, 0.25, pytest.approx(38.5)),
    ]
    assert pick(rows, "distinct_users") == [(1,), (2,)]


def test_data_quality_scorecard_keeps_the_latest_table_level_metrics(tmp_path: Path) -> None:
    path = tmp_path / "lake"

    def metric(
        table: str, day: str, column: str | None, score: float, grade: str
    ) -> dict[str, Any]:
        return payload(
            "quality_metrics",
            table_name=table,
            metric_date=day,
            column_name=column,
            overall_quality_score=score,
            quality_grade=grade,
        )

    write(
        path,
        "quality_metrics",
        [
            metric("raw.user_events", "2025-03-13", None, 0.9, "B"),
            metric("raw.user_events", "2025-03-14", "page_url", 0.5, "F"),
            metric("raw.user_events", "2025-03-14", None, 0.97, "A"),
            metric("raw.sessions", "2025-03-12", "referrer", 0.8, "C"),
        ],
    )
    rows, _ = materialize(path, "scorecard")
    columns = ("table_name", "metric_date", "overall_quality_score", "quality_grade")
    assert pick(rows, *columns) == [
        ("raw.sessions", date(2025, 3, 12), 0.8, "C"),
        ("raw.user_events", date(2025, 3, 14), 0.97, "A"),
    ]
    assert rows[1]["completeness_score"] == 0.99  # the factory's value, carried through


def test_model_accuracy_uses_the_latest_version_of_each_prediction(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    m1, m2 = UUID(int=301), UUID(int=302)
    p3 = UUID(int=403)

    def prediction(model: UUID, kind: str, value: float, **fields: Any) -> dict[str, Any]:
        unknown = {"actual_value": None, "actual_class": None, "is_correct": None}
        base = {"prediction_class": None, "actual_observed_at": None, **unknown}
        return payload(
            "model_predictions",
            model_id=str(model),
            prediction_type=kind,
            prediction_value=value,
            **(base | fields),
        )

    write(
        path,
        "model_predictions",
        [
            prediction(m1, "churn", 0.8, prediction_class="churn", actual_value=1.0,
                       actual_class="churn", is_correct=True),
            prediction(m1, "churn", 0.3, prediction_class="stay", actual_value=1.0,
                       actual_class="churn"),  # wrong, by class
            prediction(m1, "churn", 0.4, prediction_id=str(p3), prediction_class="stay"),
            prediction(m1, "churn", 0.4, prediction_id=str(p3), prediction_class="stay",
                       actual_value=0.0, actual_class="stay"),  # p3 again, with its outcome
            prediction(m1, "churn", 0.9, prediction_class="churn"),  # no outcome yet
            prediction(m2, "ctr", 0.1, actual_value=0.3),
        ],
    )  # fmt: skip
    rows, _ = materialize(path, "model_accuracy")
    columns = ("model_id", "prediction_type", "predictions", "with_actuals", "accuracy", "mae")
    assert pick(rows, *columns) == [
        (str(m1), "churn", 4, 3, pytest.approx(2 / 3), pytest.approx((0.2 + 0.7 + 0.4) / 3)),
        (str(m2), "ctr", 1, 1, None, pytest.approx(0.2)),
    ]
