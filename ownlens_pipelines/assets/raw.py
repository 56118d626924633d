"""Raw assets: every stream's `raw/<stream>` in one multi-asset whose op runs a KafkaExtractor per
selected stream, side by side, and checks each table as soon as its stream is written."""

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import LagReader, UnknownTopicError, topic_depth
from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.etl.extractor import ExtractResult, KafkaExtractor
from ownlens_pipelines.resources import IngestConfig, KafkaResource, WarehouseResource
from ownlens_pipelines.schema import INGESTED_AT, table_columns
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import Warehouse, raw_table

OP_NAME = "extract_streams"
CHECK_NAMES = ("keys_not_null", "unique_ids", "fresh")


class IngestCancelled(Exception):
    """The run was asked to stop: the stream stops after its current batch."""


def raw_key(spec: StreamSpec) -> dg.AssetKey:
    return dg.AssetKey(["raw", spec.name])


def column_schema(spec: StreamSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, c.sql_type, c.description) for c in table_columns(spec.model)
        ]
    )


def raw_asset_spec(spec: StreamSpec) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=raw_key(spec),
        skippable=True,  # a stream stopped on request is left to the next run
        group_name=spec.domain,
        kinds={"kafka", "deltalake"},
        owners=[f"team:{spec.domain}"],
        description=f"{spec.description} Events of topic `{spec.topic}`, one row each.",
        metadata={
            "topic": spec.topic,
            "consumer_group": spec.group_id,
            "dead_letter_topic": spec.dlq_topic,
            "kafka_key": spec.key_label,
            "model": spec.model.__name__,
            "dagster/table_name": raw_table(spec),
            "dagster/column_schema": column_schema(spec),
        },
    )


def raw_check_specs(spec: StreamSpec, freshness_bound: float) -> list[dg.AssetCheckSpec]:
    """Keys present, ids unique, newest row recent while the topic lags."""
    key, identity = raw_key(spec), ", ".join(spec.identity)
    return [
        dg.AssetCheckSpec(
            "keys_not_null",
            asset=key,
            description=f"Every row has its Kafka key ({spec.key_label}) and {spec.id_field}.",
        ),
        dg.AssetCheckSpec("unique_ids", asset=key, description=f"No ({identity}) appears twice."),
        dg.AssetCheckSpec(
            "fresh",
            asset=key,
            description=f"While `{spec.topic}` has lag, its newest row is at most "
            f"{freshness_bound:g} s old (`{INGESTED_AT.name}`); warns otherwise.",
        ),
    ]


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = connection.execute(sql).fetchone()
    return row[0] if row else None


def check_table(
    connection: duckdb.DuckDBPyConnection,
    spec: StreamSpec,
    names: set[str],
    lag: int,
    freshness_bound: float,
) -> list[dg.AssetCheckResult]:
    """The results of the checks `names` on `raw.<stream>`, its topic's lag being `lag`."""
    table, key, results = raw_table(spec), raw_key(spec), []
    required = " OR ".join(f"{name} IS NULL" for name in (*spec.key_fields, spec.id_field))
    counts = {  # check: (what its count is, the query counting the offending rows)
        "keys_not_null": ("rows_missing_keys", f"SELECT count(*) FROM {table} WHERE {required}"),
        "unique_ids": (
            "duplicates",
            f"SELECT count(*) - count(DISTINCT ({', '.join(spec.identity)})) FROM {table}",
        ),
    }
    for name, (label, query) in counts.items():
        if name in names:
            found = int(_scalar(connection, query))
            results.append(
                dg.AssetCheckResult(
                    asset_key=key, check_name=name, passed=found == 0, metadata={label: found}
                )
            )
    if "fresh" in names:
        column = INGESTED_AT.name
        age = _scalar(connection, f"SELECT epoch(now() - max({column})) FROM {table}")
        age_s = None if age is None else round(float(age), 3)
        results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name="fresh",
                passed=lag == 0 or (age_s is not None and age_s <= freshness_bound),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "newest_row_age_s": age_s,
                    "lag": lag,
                    "bound_s": freshness_bound,
                    "measured_on": column,
                },
            )
        )
    return results


@dataclass(frozen=True, slots=True)
class StreamIngest:
    """One stream's part of an ingest run: what the extractor did, its checks, its DLQ depth."""

    spec: StreamSpec
    result: ExtractResult
    checks: list[dg.AssetCheckResult]
    dlq_depth: int


def ingest_stream(
    spec: StreamSpec,
    etl: ETLConfig,
    checks: set[str],
    freshness_bound: float,
    reader: LagReader,
    stop: threading.Event,
) -> StreamIngest:
    """Extract the stream's backlog, then check its table and measure its dead-letter topic."""

    def stop_requested(step: str) -> None:  # once a batch's rows are durable, before its commit
        if step == "rows" and stop.is_set():
            raise IngestCancelled(f"{spec.name}: stopped on request")

    result = KafkaExtractor(spec, etl, on_step=stop_requested).run()
    with Warehouse(etl.warehouse).connect([raw_table(spec)]) as connection:
        results = check_table(connection, spec, checks, result.lag_after, freshness_bound)
    return StreamIngest(spec, result, results, dlq_depth(reader, etl.kafka, spec))


def dlq_depth(reader: LagReader, config: KafkaConfig, spec: StreamSpec) -> int:
    """Letters held by the stream's dead-letter topic (none while it does not exist)."""
    topic = config.topic_name(spec.dlq_topic)
    try:
        return topic_depth(reader.watermarks([topic]), topic)
    except UnknownTopicError:
        return 0


def finished(
    futures: dict[Future[StreamIngest], StreamSpec], stop: threading.Event
) -> Iterator[tuple[StreamSpec, StreamIngest | BaseException]]:
    """Each stream's outcome as it finishes. When the run is terminated, the streams stop after
    their current batch and those that finished still count: the run ends instead of failing."""
    remaining = dict(futures)
    while remaining:
        try:
            for future in as_completed(remaining):
                spec = remaining.pop(future)
                error = future.exception()
                yield spec, error if error is not None else future.result()
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
            stop.set()


def _previous_depth(context: dg.AssetExecutionContext, key: dg.AssetKey) -> int | None:
    event = context.instance.get_latest_materialization_event(key)
    recorded = event.asset_materialization if event else None
    value = recorded.metadata.get("dlq_depth") if recorded else None
    return int(value.value) if value is not None and isinstance(value.value, int) else None


def _events(
    context: dg.AssetExecutionContext, done: StreamIngest
) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
    key = raw_key(done.spec)
    before = _previous_depth(context, key)
    # a depth below the last one means the topic was recreated: all its letters are new
    added = done.dlq_depth if before is None or done.dlq_depth < before else done.dlq_depth - before
    metadata = {**done.result.metadata(), "dlq_depth": done.dlq_depth, "dlq_added": added}
    yield dg.MaterializeResult(asset_key=key, metadata=metadata)
    yield from done.checks


def build_raw_assets(specs: Sequence[StreamSpec], freshness_bound: float) -> dg.AssetsDefinition:
    """`raw/<stream>` for every stream: a run materializes the selected ones, each with its own
    metadata and checks; one failed stream fails the run after the others are written."""

    @dg.multi_asset(
        name=OP_NAME,
        specs=[raw_asset_spec(spec) for spec in specs],
        check_specs=[check for spec in specs for check in raw_check_specs(spec, freshness_bound)],
        can_subset=True,
        description="Extract each selected stream's backlog into `raw.<stream>`, then check it.",
    )
    def extract_streams(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        kafka: KafkaResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
        selected = [spec for spec in specs if raw_key(spec) in context.selected_asset_keys]
        checks = {
            spec.name: {
                check.name
                for check in context.selected_asset_check_keys
                if check.asset_key == raw_key(spec)
            }
            for spec in selected
        }
        etl = config.etl(kafka, warehouse)
        store = warehouse.warehouse()
        for spec in selected:  # schema changes from one place: they fail concurrent commits
            store.ensure_raw_table(spec)
        stop, failed, stopped = threading.Event(), [], []
        with (
            LagReader(etl.kafka) as reader,
            ThreadPoolExecutor(max(len(selected), 1), thread_name_prefix="ingest") as pool,
        ):
            futures = {
                pool.submit(
                    ingest_stream, spec, etl, checks[spec.name], freshness_bound, reader, stop
                ): spec
                for spec in selected
            }
            try:
                for spec, done in finished(futures, stop):
                    if isinstance(done, StreamIngest):
                        yield from _events(context, done)
                    elif isinstance(done, IngestCancelled):
                        stopped.append(spec.name)
                    else:  # the other streams go on; the run fails at the end
                        context.log.error(f"ingesting {spec.name} failed: {done!r}")
                        failed.append(f"{spec.name}: {type(done).__name__}: {done}")
            finally:  # the generator closed early: no stream goes on alone
                stop.set()
        if stopped:  # their rows are written, their offsets not: the next run writes them again
            context.log.info(f"stopped on request before the end of: {', '.join(stopped)}")
        if failed:
            raise dg.Failure(
                description=f"{len(failed)} of {len(selected)} streams failed: {'; '.join(failed)}"
            )

    return extract_streams
