"""Reprocessing: a range of a stream read again into its raw table (after a model fix, or a
dropped table) without moving the live consumer group; and dead-letter replay, as Dagster jobs."""

import uuid
from typing import Any

import dagster as dg
from pydantic import Field

from ownlens_kafka.dlq import replay
from ownlens_kafka.positions import Position, resolve
from ownlens_kafka.streams import STREAM_NAMES, StreamSpec, get_stream
from ownlens_pipelines.etl.extractor import ExtractResult, KafkaExtractor
from ownlens_pipelines.resources import IngestConfig, KafkaResource, WarehouseResource
from ownlens_pipelines.settings import ETLConfig


def reprocess(
    spec: StreamSpec, etl: ETLConfig, start: Position, end: Position | None = None
) -> ExtractResult:
    """Read `start`..`end` (default: now) of the stream into `raw.<stream>` with the same
    idempotent write (no row twice; records now invalid are dead-lettered, once). The range is
    read by assignment under a throwaway group id that commits nothing: the live group's
    offsets never move."""
    topic = etl.kafka.topic_name(spec.topic)
    first, last = resolve(etl.kafka, topic, start), resolve(etl.kafka, topic, end)
    group = f"ownlens-reprocess-{spec.name}-{uuid.uuid4().hex[:8]}"
    return KafkaExtractor(spec, etl, group_id=group).run(start=first, end=last)


class ReprocessConfig(IngestConfig):
    """Which stream and which range to read again into its raw table, and optional ETL
    overrides."""

    stream: str = Field(description=f"One of: {', '.join(STREAM_NAMES)}.")
    start: str = Field(
        description="First offset (every partition) or ISO 8601 time, e.g. 2026-12-01T08:00:00Z."
    )
    end: str | None = Field(
        default=None, description="Offset or time to stop before; empty: the end offsets now."
    )


@dg.op
def reprocess_range(
    context: dg.OpExecutionContext,
    config: ReprocessConfig,
    kafka: KafkaResource,
    warehouse: WarehouseResource,
) -> dict[str, Any]:
    """Read a range of a stream again into `raw.<stream>` (no row twice; live group untouched)."""
    etl = config.etl(kafka, warehouse)
    end = Position.parse(config.end) if config.end else None
    result = reprocess(get_stream(config.stream), etl, Position.parse(config.start), end)
    metadata = result.metadata()
    context.add_output_metadata(metadata)
    return metadata


class ReplayConfig(dg.Config):
    """Which stream's dead letters to replay."""

    stream: str = Field(description=f"One of: {', '.join(STREAM_NAMES)}.")


@dg.op
def replay_dead_letters(
    context: dg.OpExecutionContext, config: ReplayConfig, kafka: KafkaResource
) -> dict[str, Any]:
    """Re-publish a stream's dead letters through validation; what still fails is lettered
    again with one more attempt. Fails while any letter still fails."""
    result = replay(kafka.kafka_config(), get_stream(config.stream))
    failing = len(result.still_failing or [])
    summary = {
        "replayed": result.replayed,
        "still_failing": failing,
        "duplicates_skipped": result.duplicates,
    }
    context.add_output_metadata(summary)
    if failing:
        raise dg.Failure(f"{failing} dead letter(s) still fail validation", metadata=summary)
    return summary


@dg.job(
    executor_def=dg.in_process_executor,
    description="Read a range of a stream (offsets or times) again into its raw table.",
    config=dg.RunConfig(ops={"reprocess_range": ReprocessConfig(stream="user_events", start="0")}),
)
def reprocess_stream() -> None:
    reprocess_range()


@dg.job(
    executor_def=dg.in_process_executor,
    description="Re-publish a stream's dead letters through validation (after a model fix).",
    config=dg.RunConfig(ops={"replay_dead_letters": ReplayConfig(stream="user_events")}),
)
def replay_stream_dead_letters() -> None:
    replay_dead_letters()


def reprocessing_jobs() -> list[dg.JobDefinition]:
    return [reprocess_stream, replay_stream_dead_letters]
