"""The `follow_streams` job: long-lived ingestion, started by the lag sensor, that writes events
as they arrive and reports each raw asset's materialization and checks once per interval."""

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import dagster as dg

from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.assets.raw import CHECK_NAMES, check_table, raw_key
from ownlens_pipelines.following import Report, follow
from ownlens_pipelines.resources import IngestConfig, KafkaResource, WarehouseResource
from ownlens_pipelines.sensors import AutomationSettings
from ownlens_pipelines.warehouse import Warehouse, raw_table

FOLLOW_JOB = "follow_streams"
FOLLOW_OP = "follow"
REPEAT_EVERY = 10
Event = dg.AssetMaterialization | dg.AssetCheckEvaluation


class FollowConfig(IngestConfig):
    """How long a run follows the streams and how often it reports, in seconds (empty:
    `OWNLENS_INGEST_IDLE_TIMEOUT`, `OWNLENS_INGEST_MAX_DURATION`, `OWNLENS_REPORT_INTERVAL`)."""

    report_interval: float | None = None
    idle_timeout: float | None = None
    max_duration: float | None = None


@dataclass
class Reported:
    """The check results reported so far. The UI shows a run's (or the runless) last result of
    a check for every later materialization of the same run, so a result is reported again
    only when it changes, or at least every REPEAT_EVERY evaluations (fresh figures)."""

    last: dict[dg.AssetCheckKey, tuple[bool, dg.AssetCheckSeverity, int]] = field(
        default_factory=dict
    )

    def changed(self, evaluation: dg.AssetCheckEvaluation) -> bool:
        key = evaluation.asset_check_key
        passed, severity, age = self.last.get(key, (None, None, REPEAT_EVERY))
        new = (passed, severity) != (evaluation.passed, evaluation.severity)
        again = new or age + 1 >= REPEAT_EVERY
        self.last[key] = (evaluation.passed, evaluation.severity, 0 if again else age + 1)
        return again


def report_events(
    report: Report,
    specs: Sequence[StreamSpec],
    warehouse: Warehouse,
    freshness_bound: float,
    reported: Reported,
    source: str = f"a `{FOLLOW_JOB}` run",
) -> Iterator[Event]:
    """A materialization of each raw asset written in the interval, then the checks of every
    stream written, or lagging for longer than the run has had to catch up, whose result is
    new (see `Reported`)."""
    stale = report.elapsed > freshness_bound
    checked = [
        s for s in specs if s.name in report.intervals or (stale and report.lag.get(s.name, 0) > 0)
    ]
    evaluations: list[dg.AssetCheckEvaluation] = []
    if checked:
        with warehouse.connect([raw_table(spec) for spec in checked]) as connection:
            for spec in checked:
                lag = report.lag.get(spec.name, 0)
                for result in check_table(connection, spec, set(CHECK_NAMES), lag, freshness_bound):
                    evaluations.append(
                        dg.AssetCheckEvaluation(
                            asset_key=raw_key(spec),
                            check_name=str(result.check_name),
                            passed=result.passed,
                            metadata=result.metadata,
                            severity=result.severity,
                        )
                    )
    for spec in specs:  # the checks are computed first: they follow their materialization at once
        interval = report.intervals.get(spec.name)
        if interval is not None:
            yield dg.AssetMaterialization(
                asset_key=raw_key(spec),
                description=f"written by {source}",
                metadata=interval.metadata(report.seconds, report.lag.get(spec.name)),
            )
    yield from (evaluation for evaluation in evaluations if reported.changed(evaluation))


def build_follow_job(specs: Sequence[StreamSpec], freshness_bound: float) -> dg.JobDefinition:
    """`follow_streams`: every stream followed until idle or the run's maximum duration."""

    @dg.op(
        name=FOLLOW_OP,
        out={},
        description="Follow every stream into its raw table until idle or `max_duration`; report "
        "each raw asset and its checks every `report_interval` seconds.",
    )
    def follow_streams(
        context: dg.OpExecutionContext,
        config: FollowConfig,
        kafka: KafkaResource,
        warehouse: WarehouseResource,
    ) -> Iterator[Event]:
        etl, store, stop = config.etl(kafka, warehouse), warehouse.warehouse(), threading.Event()
        cadence = AutomationSettings()
        reports = follow(
            specs,
            etl,
            stop,
            report_interval=config.report_interval or cadence.report_interval,
            idle_timeout=config.idle_timeout or cadence.ingest_idle_timeout,
            max_duration=config.max_duration or cadence.ingest_max_duration,
            interrupts=(KeyboardInterrupt, dg.DagsterExecutionInterruptedError),
        )
        reported = Reported()
        try:
            while True:
                try:
                    report = next(reports)
                    yield from report_events(report, specs, store, freshness_bound, reported)
                except StopIteration:
                    break
                except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
                    stop.set()  # terminated: the followers end their batch, a last report
                    context.log.info("asked to stop: ending after the current batches")
        finally:  # interrupted outside this op, or closed: no follower goes on alone
            stop.set()
            reports.close()

    @dg.job(
        name=FOLLOW_JOB,
        executor_def=dg.in_process_executor,
        description="Long-lived ingestion of every stream, started by the lag sensor.",
    )
    def job() -> None:
        follow_streams()

    return job
