"""Streaming mode: one long-lived consumer per stream, writing as events arrive."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import dagster as dg

from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.etl.extractor import ExtractResult, KafkaExtractor
from ownlens_pipelines.headless import instance
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import Warehouse

Report = Callable[[str, int, int], None]


def stream_forever(
    specs: Sequence[StreamSpec],
    stop: threading.Event,
    report: Report | None = None,
    etl: ETLConfig | None = None,
) -> None:
    """Run a follower per stream until `stop` is set; each write is reported to Dagster as a
    materialization of `raw/<stream>`, so the UI shows the tables fresh."""
    settings = etl or ETLConfig()
    dagster = instance()
    warehouse = Warehouse(settings.warehouse)
    for spec in specs:  # schema changes from one place: they fail concurrent commits
        warehouse.ensure_raw_table(spec)
    errors: list[BaseException] = []

    def follow(spec: StreamSpec) -> None:
        last = 0

        def on_write(result: ExtractResult) -> None:
            nonlocal last
            written, last = result.rows_written - last, result.rows_written
            dagster.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=dg.AssetKey(["raw", spec.name]),
                    description="written by `ownlens stream`",
                    metadata={
                        "dagster/row_count": result.rows_total,
                        "rows_written": written,
                        "dead_lettered": result.dead_lettered,
                    },
                )
            )
            if report is not None:
                report(spec.name, written, result.rows_total)

        try:
            KafkaExtractor(spec, settings).follow(stop, on_write)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=follow, args=(spec,), name=f"stream-{spec.name}") for spec in specs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
