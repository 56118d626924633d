"""Streaming mode (`ownlens stream`): the followers of a `follow_streams` run in a process of its
own, reported to Dagster as runless events at the same cadence."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.following import Progress, follow
from ownlens_pipelines.headless import instance
from ownlens_pipelines.ingestion import Reported, report_events
from ownlens_pipelines.sensors import AutomationSettings
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import Warehouse


def stream_forever(
    specs: Sequence[StreamSpec],
    stop: threading.Event,
    progress: Progress | None = None,
    etl: ETLConfig | None = None,
) -> None:
    """Follow the streams until `stop` is set; every `OWNLENS_REPORT_INTERVAL` seconds (and at
    the end) each raw asset written is reported as a materialization, with its checks."""
    settings, cadence = etl or ETLConfig(), AutomationSettings()
    dagster, warehouse = instance(), Warehouse(settings.warehouse)
    reports = follow(
        specs, settings, stop, report_interval=cadence.report_interval, progress=progress
    )
    reported = Reported()
    for report in reports:
        for event in report_events(
            report, specs, warehouse, cadence.freshness_bound, reported, "`ownlens stream`"
        ):
            dagster.report_runless_asset_event(event)
