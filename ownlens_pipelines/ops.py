"""The ETL steps as ops: extract any stream into the warehouse, or load a table back to Kafka."""

from typing import Any

import dagster as dg
import pandas as pd

from ownlens_kafka.streams import STREAM_NAMES, get_stream
from ownlens_pipelines.etl.extractor import KafkaExtractor
from ownlens_pipelines.etl.loader import KafkaLoader
from ownlens_pipelines.resources import IngestConfig, KafkaResource, WarehouseResource
from ownlens_pipelines.warehouse import raw_table


class StreamConfig(IngestConfig):
    """Which stream (a name of the stream table), and optional ETL overrides."""

    stream: str


@dg.op
def kafka_extract(
    context: dg.OpExecutionContext,
    config: StreamConfig,
    kafka: KafkaResource,
    warehouse: WarehouseResource,
) -> dict[str, Any]:
    """KafkaExtractor: the stream's backlog into `raw.<stream>`, then commit."""
    etl = KafkaExtractor(get_stream(config.stream), config.etl(kafka, warehouse)).run()
    metadata = etl.metadata()
    context.add_output_metadata(metadata)
    return metadata


@dg.op
def read_raw_table(config: StreamConfig, warehouse: WarehouseResource) -> pd.DataFrame:
    """`raw.<stream>` as a DataFrame (bounded by `max_records`)."""
    spec = get_stream(config.stream)
    limit = config.max_records or 1_000_000
    with warehouse.warehouse().connect([raw_table(spec)]) as connection:
        return connection.execute(
            f"SELECT * FROM {raw_table(spec)} ORDER BY _partition, _offset LIMIT {int(limit)}"
        ).df()


@dg.op
def kafka_load(
    context: dg.OpExecutionContext, config: StreamConfig, kafka: KafkaResource, frame: pd.DataFrame
) -> dict[str, Any]:
    """KafkaLoader: validate each row against the stream's model and publish it."""
    result = KafkaLoader(get_stream(config.stream), kafka.kafka_config()).load(frame)
    summary: dict[str, Any] = {
        "rows": result.rows,
        "delivered": result.delivered,
        "failed": len(result.failures),
        "offsets": {str(p): list(r) for p, r in sorted(result.offsets.items())},
    }
    context.add_output_metadata(summary)
    if result.failures:
        shown = "; ".join(f"row {f.label}: {f.reason}" for f in result.failures[:5])
        raise dg.Failure(f"{len(result.failures)} row(s) not published: {shown}", metadata=summary)
    return summary


@dg.job(
    executor_def=dg.in_process_executor,
    description=f"Extract one stream ({', '.join(STREAM_NAMES)}) into the warehouse.",
)
def extract_stream() -> None:
    kafka_extract()


@dg.job(
    executor_def=dg.in_process_executor,
    description="Re-publish a raw table to its topic, validated (e.g. after a cluster rebuild).",
)
def republish_stream() -> None:
    kafka_load(read_raw_table())


def etl_jobs() -> list[dg.JobDefinition]:
    return [extract_stream, republish_stream]
