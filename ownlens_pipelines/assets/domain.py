"""Domain assets: analyst-facing Delta tables, one DuckDB SELECT over the raw stream tables each,
refreshed incrementally (`refresh`): only the groups (days, ids) that new raw rows touch.

Days and hour windows are UTC. Each source row is read once per id: the last version received
(`latest`), so redeliveries and updates (a prediction's actuals, an article's new title) count once.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from ownlens_kafka.streams import get_stream
from ownlens_pipelines.assets.raw import raw_key
from ownlens_pipelines.refresh import refresh
from ownlens_pipelines.resources import WarehouseResource
from ownlens_pipelines.warehouse import Warehouse, raw_table, table_stats

PREVIEW_ROWS = 10
# Rebuilt after its raw tables change. Raw tables are ingested continuously, so waiting for
# them to have no run in progress (plain eager) would starve these assets; each refresh reads
# one snapshot of each raw table.
FRESH = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_in_progress())


@dataclass(frozen=True, slots=True)
class DomainAssetSpec:
    """One domain table: `<domain>.<name>`, built by `sql` from the raw tables of `deps`; `columns`
    describes each column the SQL returns, in order; `grains`: output columns a refresh
    recomputes by, each with its expression in the sources that have it (`refresh`)."""

    domain: str
    name: str
    deps: tuple[str, ...]
    description: str
    sql: str
    grains: Mapping[str, Mapping[str, str]] = field(hash=False)
    columns: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def table(self) -> str:
        return f"{self.domain}.{self.name}"


COMPANY = {"company_id": "Company (tenant) the rows belong to."}
BRAND = {"brand_id": "Brand (publication) of the company."}
DAY = {"day": "UTC day."}


def latest(stream: str) -> str:
    """A subquery over `raw.<stream>` keeping the last version received of each id."""
    spec = get_stream(stream)
    return (
        f"(SELECT * FROM {raw_table(spec)} QUALIFY row_number() OVER ("
        f"PARTITION BY {spec.id_field} ORDER BY _produced_at DESC NULLS LAST, _offset DESC) = 1)"
    )


DAILY_ENGAGEMENT = f"""
WITH events AS (
    SELECT
        company_id, brand_id, event_date AS day,
        count(*) AS events,
        count(DISTINCT user_id) AS unique_users,
        count(DISTINCT session_id) AS active_sessions,
        count(*) FILTER (WHERE event_type = 'article_view') AS article_views,
        count(*) FILTER (WHERE event_type = 'article_click') AS article_clicks,
        count(*) FILTER (WHERE event_type = 'ad_click') AS ad_clicks,
        avg(TRY_CAST(engagement_metrics ->> 'scroll_depth' AS DOUBLE)) AS avg_scroll_depth,
        avg(TRY_CAST(engagement_metrics ->> 'time_on_page' AS DOUBLE)) AS avg_time_on_page_sec
    FROM {latest("user_events")}
    GROUP BY company_id, brand_id, event_date
),
sessions AS (
    SELECT
        company_id, brand_id, CAST(session_start AS DATE) AS day,
        count(*) AS sessions_started,
        avg(session_duration_sec) AS avg_session_duration_sec
    FROM {latest("sessions")}
    GROUP BY company_id, brand_id, CAST(session_start AS DATE)
)
SELECT
    company_id, brand_id, day,
    coalesce(events, 0) AS events,
    coalesce(unique_users, 0) AS unique_users,
    coalesce(active_sessions, 0) AS active_sessions,
    coalesce(sessions_started, 0) AS sessions_started,
    coalesce(article_views, 0) AS article_views,
    coalesce(article_clicks, 0) AS article_clicks,
    coalesce(ad_clicks, 0) AS ad_clicks,
    avg_scroll_depth,
    avg_time_on_page_sec,
    avg_session_duration_sec
FROM events FULL OUTER JOIN sessions USING (company_id, brand_id, day)
ORDER BY day, company_id, brand_id
"""

ARTICLE_PERFORMANCE = f"""
SELECT
    e.company_id, e.brand_id, e.event_date AS day, e.article_id,
    any_value(a.title) AS title,
    count(*) FILTER (WHERE e.event_type = 'article_view') AS views,
    count(*) FILTER (WHERE e.event_type = 'article_click') AS clicks,
    count(*) FILTER (WHERE e.event_type = 'share') AS shares,
    count(*) FILTER (WHERE e.event_type = 'comment') AS comments,
    count(*) FILTER (WHERE e.event_type = 'like') AS likes,
    count(*) FILTER (WHERE e.event_type = 'bookmark') AS bookmarks,
    count(DISTINCT e.user_id) AS unique_users
FROM {latest("content_events")} AS e
LEFT JOIN {latest("articles")} AS a ON a.article_id = e.article_id
GROUP BY e.company_id, e.brand_id, e.event_date, e.article_id
ORDER BY day, views DESC, e.article_id
"""

INTERNAL_CONTENT_REACH = f"""
SELECT
    company_id, publish_date, content_type, priority_level, status,
    count(*) AS contents,
    count(*) FILTER (WHERE is_company_wide) AS company_wide,
    count(*) FILTER (WHERE is_important) AS important,
    coalesce(len(list_distinct(flatten(
        list(CAST(CAST(target_departments AS JSON) AS UUID[]))
            FILTER (WHERE target_departments IS NOT NULL)
    ))), 0) AS targeted_departments
FROM {latest("internal_content")}
GROUP BY company_id, publish_date, content_type, priority_level, status
ORDER BY publish_date, company_id, content_type, priority_level, status
"""

INCIDENTS = f"""
WITH incidents AS (
    SELECT
        *,
        CASE event_severity
            WHEN 'INFO' THEN 1 WHEN 'WARNING' THEN 2 WHEN 'ERROR' THEN 3 WHEN 'CRITICAL' THEN 4
        END AS severity_rank
    FROM {latest("security_events")}
    WHERE event_type IN ('LOGIN_FAILED', 'SUSPICIOUS_ACTIVITY')
)
SELECT
    company_id, user_id, ip_address,
    date_trunc('hour', event_timestamp) AS window_start,
    date_trunc('hour', event_timestamp) + INTERVAL 1 HOUR AS window_end,
    count(*) AS incidents,
    count(*) FILTER (WHERE event_type = 'LOGIN_FAILED') AS failed_logins,
    count(*) FILTER (WHERE event_type = 'SUSPICIOUS_ACTIVITY') AS suspicious_activities,
    min(event_timestamp) AS first_seen,
    max(event_timestamp) AS last_seen,
    arg_max(event_severity, severity_rank) AS max_severity
FROM incidents
GROUP BY company_id, user_id, ip_address, date_trunc('hour', event_timestamp)
HAVING count(*) >= 1
ORDER BY window_start, incidents DESC, user_id, ip_address
"""

# A request has no id of its own: every step repeats its `requested_at`, so one request is
# (company, compliance_type, user_id, requested_at); a REQUEST step without it uses its timestamp.
REQUEST_SLA = f"""
WITH steps AS (
    SELECT
        company_id, compliance_type, user_id, event_type, status, completed_at, event_timestamp,
        coalesce(requested_at, CASE WHEN event_type = 'REQUEST' THEN event_timestamp END)
            AS request_time
    FROM {latest("compliance_events")}
),
requests AS (
    SELECT
        company_id, compliance_type, user_id, request_time,
        min(coalesce(completed_at, event_timestamp)) FILTER (WHERE event_type = 'COMPLETED')
            AS completed_time,
        bool_or(event_type = 'FAILED' OR status IN ('FAILED', 'CANCELLED')) AS failed
    FROM steps
    WHERE request_time IS NOT NULL
    GROUP BY company_id, compliance_type, user_id, request_time
)
SELECT
    company_id, compliance_type,
    count(*) AS requests,
    count(completed_time) AS completed,
    count(*) FILTER (WHERE completed_time IS NULL AND failed) AS failed,
    count(*) FILTER (WHERE completed_time IS NULL AND NOT failed) AS open_requests,
    quantile_cont(epoch(completed_time - request_time) / 3600, 0.5) AS median_hours_to_complete,
    quantile_cont(epoch(completed_time - request_time) / 3600, 0.95) AS p95_hours_to_complete
FROM requests
GROUP BY company_id, compliance_type
ORDER BY company_id, compliance_type
"""

AUDIT_ACTIVITY = f"""
SELECT
    company_id, event_date AS day, action, resource_type,
    count(*) AS requests,
    count(*) FILTER (WHERE NOT success) AS failures,
    CAST(count(*) FILTER (WHERE NOT success) AS DOUBLE) / count(*) AS error_rate,
    quantile_cont(response_time_ms, 0.95) AS p95_response_time_ms,
    count(DISTINCT user_id) AS distinct_users
FROM {latest("audit_logs")}
GROUP BY company_id, event_date, action, resource_type
ORDER BY day, company_id, action, resource_type
"""

# The newest metric_date wins; on that day a table-level row (no column_name) beats column rows.
SCORECARD = f"""
SELECT
    table_name, domain, metric_date, total_records,
    overall_quality_score, completeness_score, validity_score, uniqueness_score, quality_grade
FROM {raw_table(get_stream("quality_metrics"))}
QUALIFY row_number() OVER (
    PARTITION BY table_name
    ORDER BY metric_date DESC, column_name IS NULL DESC, _produced_at DESC NULLS LAST, _offset DESC
) = 1
ORDER BY table_name
"""

MODEL_ACCURACY = f"""
WITH predictions AS (
    SELECT *, coalesce(is_correct, prediction_class = actual_class) AS correct
    FROM {latest("model_predictions")}
)
SELECT
    company_id, model_id, prediction_type,
    count(*) FILTER (WHERE metadata ->> 'outcome_of' IS NULL) AS predictions,
    count(*) FILTER (
        WHERE actual_value IS NOT NULL OR actual_class IS NOT NULL OR is_correct IS NOT NULL
    ) AS with_actuals,
    avg(CAST(correct AS DOUBLE)) AS accuracy,
    avg(abs(prediction_value - actual_value)) AS mae,
    min(prediction_date) AS first_prediction_date,
    max(prediction_date) AS last_prediction_date
FROM predictions
GROUP BY company_id, model_id, prediction_type
ORDER BY company_id, model_id, prediction_type
"""

DOMAIN_ASSETS: tuple[DomainAssetSpec, ...] = (
    DomainAssetSpec(
        domain="customer",
        name="daily_engagement",
        deps=("user_events", "sessions"),
        description="Reader engagement per brand and UTC day: events, unique readers, sessions, "
        "article views, clicks, average scroll depth and time on page.",
        sql=DAILY_ENGAGEMENT,
        grains={"day": {"user_events": "event_date", "sessions": "CAST(session_start AS DATE)"}},
        columns={
            **COMPANY,
            **BRAND,
            **DAY,
            "events": "Reader events (each event counted once, redeliveries aside).",
            "unique_users": "Distinct readers with an event that day.",
            "active_sessions": "Distinct sessions with an event that day.",
            "sessions_started": "Sessions that started that day.",
            "article_views": "Events of type article_view.",
            "article_clicks": "Events of type article_click.",
            "ad_clicks": "Events of type ad_click.",
            "avg_scroll_depth": "Average scroll depth (percent) of the events that report one.",
            "avg_time_on_page_sec": "Average time on page (seconds) of the events that report one.",
            "avg_session_duration_sec": "Average duration (seconds) of the sessions started that "
            "day.",
        },
    ),
    DomainAssetSpec(
        domain="editorial",
        name="article_performance",
        deps=("content_events", "articles"),
        description="Views, clicks, shares, comments, likes and bookmarks per article and UTC "
        "day, with the article's latest title when known.",
        sql=ARTICLE_PERFORMANCE,
        grains={
            "day": {"content_events": "event_date"},
            "article_id": {"content_events": "article_id", "articles": "article_id"},
        },
        columns={
            **COMPANY,
            **BRAND,
            **DAY,
            "article_id": "Article the events are about.",
            "title": "The article's latest title, when the article itself was received.",
            "views": "Events of type article_view.",
            "clicks": "Events of type article_click.",
            "shares": "Events of type share.",
            "comments": "Events of type comment.",
            "likes": "Events of type like.",
            "bookmarks": "Events of type bookmark.",
            "unique_users": "Distinct readers with an event on the article that day.",
        },
    ),
    DomainAssetSpec(
        domain="company",
        name="internal_content_reach",
        deps=("internal_content",),
        description="Internal content per publish day, type, priority and status: how much, how "
        "much company-wide or important, and how many departments it targets.",
        sql=INTERNAL_CONTENT_REACH,
        grains={"publish_date": {"internal_content": "publish_date"}},
        columns={
            **COMPANY,
            "publish_date": "UTC day the content was published.",
            "content_type": "Kind of internal content (announcement, policy, ...).",
            "priority_level": "Priority given by its author.",
            "status": "Publication status.",
            "contents": "Pieces of content.",
            "company_wide": "Pieces addressed to the whole company.",
            "important": "Pieces flagged important.",
            "targeted_departments": "Distinct departments targeted by these pieces.",
        },
    ),
    DomainAssetSpec(
        domain="security",
        name="incidents",
        deps=("security_events",),
        description="Failed logins and suspicious activity per user, IP address and UTC hour, "
        "with first and last sighting and the highest severity; only hours with incidents.",
        sql=INCIDENTS,
        grains={"window_start": {"security_events": "date_trunc('hour', event_timestamp)"}},
        columns={
            **COMPANY,
            "user_id": "User the incidents concern (empty when unknown).",
            "ip_address": "IP address they came from.",
            "window_start": "Start of the UTC hour.",
            "window_end": "End of the UTC hour (exclusive).",
            "incidents": "Failed logins and suspicious activities in the hour.",
            "failed_logins": "Events of type LOGIN_FAILED.",
            "suspicious_activities": "Events of type SUSPICIOUS_ACTIVITY.",
            "first_seen": "Time of the first incident in the hour.",
            "last_seen": "Time of the last incident in the hour.",
            "max_severity": "Highest severity seen (INFO < WARNING < ERROR < CRITICAL).",
        },
    ),
    DomainAssetSpec(
        domain="compliance",
        name="request_sla",
        deps=("compliance_events",),
        description="Compliance requests per type: how many, completed, failed, still open, and "
        "median / p95 hours from request to completion. A request is the steps sharing "
        "company, type, user and requested_at (events carry no request id).",
        sql=REQUEST_SLA,
        grains={"compliance_type": {"compliance_events": "compliance_type"}},
        columns={
            **COMPANY,
            "compliance_type": "Kind of request (GDPR access, deletion, ...).",
            "requests": "Requests received.",
            "completed": "Requests with a COMPLETED step.",
            "failed": "Requests not completed with a FAILED step or a failed or cancelled status.",
            "open_requests": "Requests neither completed nor failed.",
            "median_hours_to_complete": "Median hours from request to completion.",
            "p95_hours_to_complete": "95th percentile of the hours from request to completion.",
        },
    ),
    DomainAssetSpec(
        domain="audit",
        name="activity",
        deps=("audit_logs",),
        description="Audited requests per UTC day, action and resource type: volume, failures, "
        "error rate, p95 response time (ms) and distinct users.",
        sql=AUDIT_ACTIVITY,
        grains={"day": {"audit_logs": "event_date"}},
        columns={
            **COMPANY,
            **DAY,
            "action": "Audited action (READ, UPDATE, EXPORT, ...).",
            "resource_type": "Kind of resource acted on.",
            "requests": "Audited requests.",
            "failures": "Requests that did not succeed.",
            "error_rate": "Share of the requests that failed (0 to 1).",
            "p95_response_time_ms": "95th percentile of the response time, in milliseconds.",
            "distinct_users": "Distinct users who made the requests.",
        },
    ),
    DomainAssetSpec(
        domain="data_quality",
        name="scorecard",
        deps=("quality_metrics",),
        description="The latest quality metrics of each table: date, records, overall, "
        "completeness, validity and uniqueness scores, and grade.",
        sql=SCORECARD,
        grains={"table_name": {"quality_metrics": "table_name"}},
        columns={
            "table_name": "Measured table (`raw.<stream>`).",
            "domain": "Domain the table belongs to.",
            "metric_date": "Day of the latest metrics.",
            "total_records": "Rows in the table when measured.",
            "overall_quality_score": "Mean of the scores measured (0 to 1).",
            "completeness_score": "Share of rows with every key field present (0 to 1).",
            "validity_score": "Share of valid values (0 to 1), when measured.",
            "uniqueness_score": "Share of distinct ids among the rows with one (0 to 1).",
            "quality_grade": "A (>= 0.95), B (>= 0.90), C (>= 0.80), D (>= 0.70) or F.",
        },
    ),
    DomainAssetSpec(
        domain="ml_models",
        name="model_accuracy",
        deps=("model_predictions",),
        description="Per model and prediction type: predictions (follow-ups carrying actuals, "
        "metadata.outcome_of, not counted again), how many have actuals, accuracy (share "
        "correct) and mean absolute error of predicted vs actual values.",
        sql=MODEL_ACCURACY,
        grains={"model_id": {"model_predictions": "model_id"}},
        columns={
            **COMPANY,
            "model_id": "Model that made the predictions.",
            "prediction_type": "Kind of prediction (churn, ctr, ...).",
            "predictions": "Predictions (follow-ups carrying actuals not counted again).",
            "with_actuals": "Predictions whose actual outcome is known.",
            "accuracy": "Share of the predictions with an outcome that were right (0 to 1).",
            "mae": "Mean absolute error of predicted vs actual values.",
            "first_prediction_date": "Day of the first prediction.",
            "last_prediction_date": "Day of the latest prediction.",
        },
    ),
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as a Markdown table (the UI renders it as the asset's preview)."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows),
    ]
    return "\n".join(lines)


def table_schema(
    connection: duckdb.DuckDBPyConnection, table: str, described: Mapping[str, str] | None = None
) -> dg.TableSchema:
    """The DuckDB column names and types of `table`, with the descriptions of `described`."""
    rows = connection.execute(f"DESCRIBE {table}").fetchall()
    notes = described or {}
    return dg.TableSchema(
        columns=[dg.TableColumn(name, type_, notes.get(name)) for name, type_, *_ in rows]
    )


def table_metadata(
    connection: duckdb.DuckDBPyConnection, table: str, described: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Row count, column schema (with the descriptions of `described`) and a preview of the
    first rows of `table`."""
    count = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    preview = connection.execute(f"SELECT * FROM {table} LIMIT {PREVIEW_ROWS}")
    columns = [d[0] for d in preview.description or ()]
    rows = preview.fetchall()  # before the next query: a DuckDB connection has one result
    return {
        "dagster/row_count": int(count[0]) if count else 0,
        "dagster/table_name": table,
        "dagster/column_schema": table_schema(connection, table, described),
        "preview": dg.MetadataValue.md(markdown_table(columns, rows)),
    }


def build_table(
    warehouse: Warehouse, spec: DomainAssetSpec, *, full: bool = False
) -> dict[str, Any]:
    """Refresh `<domain>.<name>` (incrementally unless `full`); returns the table's metadata."""
    done = refresh(warehouse, spec, full=full)
    table = warehouse.table(spec.table)
    with warehouse.connect([spec.table]) as connection:
        metadata = table_metadata(connection, spec.table, spec.columns)
    stats = {} if table is None else table_stats(table).metadata()
    return {**metadata, **stats, **done.metadata()}


def domain_key(spec: DomainAssetSpec) -> dg.AssetKey:
    return dg.AssetKey([spec.domain, spec.name])


def domain_asset_spec(spec: DomainAssetSpec) -> dg.AssetSpec:
    """The asset `<domain>/<name>`, rebuilt whenever one of its raw tables is updated."""
    return dg.AssetSpec(
        key=domain_key(spec),
        deps=[raw_key(get_stream(stream)) for stream in spec.deps],
        group_name=spec.domain,
        kinds={"deltalake", "duckdb"},
        owners=[f"team:{spec.domain}"],
        skippable=True,  # a run stopped on request leaves the rest to the next one
        automation_condition=FRESH,
        description=spec.description,
        metadata={"dagster/table_name": spec.table},
    )


class RefreshConfig(dg.Config):
    """How a domain refresh runs."""

    full: bool = Field(
        default=False, description="Rebuild from all raw rows instead of only the changes."
    )


def build_domain_assets(specs: Sequence[DomainAssetSpec] = DOMAIN_ASSETS) -> dg.AssetsDefinition:
    """Every domain table in one multi-asset: a run refreshes the selected ones, one after the
    other, each with its own materialization."""

    @dg.multi_asset(
        name="domain_tables",
        specs=[domain_asset_spec(spec) for spec in specs],
        can_subset=True,
        description="Refresh the selected domain tables from what changed in the raw tables.",
    )
    def domain_tables(
        context: dg.AssetExecutionContext, config: RefreshConfig, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult[Any]]:
        store = warehouse.warehouse()
        selected = [spec for spec in specs if domain_key(spec) in context.selected_asset_keys]
        for index, spec in enumerate(selected):
            try:
                metadata = build_table(store, spec, full=config.full)
            except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
                # terminated: the run ends here, the tables left are refreshed next time
                left = ", ".join(s.table for s in selected[index:])
                context.log.info(f"stopped on request; not refreshed: {left}")
                return
            yield dg.MaterializeResult(asset_key=domain_key(spec), metadata=metadata)

    return domain_tables


rebuild_domain_tables = dg.define_asset_job(
    "rebuild_domain_tables",
    selection=dg.AssetSelection.assets(*(domain_key(spec) for spec in DOMAIN_ASSETS)),
    description="Rebuild every domain table from all raw rows (after a SQL change or a gap).",
    config={"ops": {"domain_tables": {"config": {"full": True}}}},
)


def domain_assets() -> list[dg.AssetsDefinition]:
    """The domain tables of `DOMAIN_ASSETS`."""
    return [build_domain_assets()]
