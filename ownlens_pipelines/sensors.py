"""The lag sensor: every consumer group's lag read in one pass (never consuming), and a run that
follows the streams started when they lag and none is active."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import LagReader, PartitionLag, UnknownTopicError, stream_groups
from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.resources import KafkaResource

LAG_SENSOR = "consumer_lag"
STREAM_TAG_PREFIX = "ownlens/backlog/"  # + stream name: its committed..end range at the request
STREAMS_TAG = "ownlens/streams"
BACKOFF_S = 30.0  # after a failed run; doubled after each further one
BACKOFF_MAX_S = 900.0
BACKOFF_LOOKBACK = 10
WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]
RUNNING = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
FINISHED = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
]


class AutomationSettings(BaseSettings):
    """The operator's cadence: how often ingestion reports and domain tables refresh, how long
    an ingestion run lasts, and how stale a lagging stream may get."""

    model_config = SettingsConfigDict(env_prefix="OWNLENS_", extra="ignore", frozen=True)

    domain_interval: int = Field(
        default=300, ge=1, description="Seconds between two domain table refreshes, at least."
    )
    report_interval: float = Field(
        default=60.0, gt=0, description="Seconds between two reports of each raw asset."
    )
    ingest_idle_timeout: float = Field(
        default=300.0, gt=0, description="An ingestion run ends after this long without events."
    )
    ingest_max_duration: float = Field(
        default=900.0, gt=0, description="An ingestion run ends after this long (new code applies)."
    )
    freshness_bound: float = Field(
        default=60.0,
        gt=0,
        description="Seconds the newest raw row may be old while its topic lags.",
    )


@dataclass(frozen=True, slots=True)
class Backlog:
    """One stream's lag: committed..end on each partition."""

    spec: StreamSpec
    partitions: tuple[PartitionLag, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def ends(self) -> dict[int, int]:
        return {p.partition: p.end for p in self.partitions}

    def describe(self) -> str:
        """`0:5..9,1:-..3`: per partition, committed offset (`-`: none) .. end offset."""
        return ",".join(
            f"{p.partition}:{p.committed if p.committed is not None else '-'}..{p.end}"
            for p in sorted(self.partitions, key=lambda lag: lag.partition)
        )


class LagSnapshot:
    """Every group's lag read in one pass through a `LagReader` kept per cluster (its clients stay
    connected between ticks), and reused for `ttl` seconds."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._readers: dict[str, LagReader] = {}
        self._taken: dict[str, tuple[float, list[PartitionLag]]] = {}

    def lag(self, kafka: KafkaResource, specs: Sequence[StreamSpec]) -> list[PartitionLag]:
        config = kafka.kafka_config()
        key = config.model_dump_json()
        with self._lock:
            taken = self._taken.get(key)
            if taken is None or time.monotonic() - taken[0] > self.ttl:
                reader = self._readers.setdefault(key, LagReader(config))
                taken = (time.monotonic(), read_lag(reader, config, specs))
                self._taken[key] = taken
        return taken[1]

    def close(self) -> None:
        with self._lock:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()
            self._taken.clear()


SNAPSHOT = LagSnapshot()


def read_lag(
    reader: LagReader, config: KafkaConfig, specs: Sequence[StreamSpec]
) -> list[PartitionLag]:
    """All groups at once; if a topic is missing, stream by stream without it, so one missing
    topic does not blind the lag of the others."""
    try:
        return reader.group_lag(stream_groups(config, specs))
    except UnknownTopicError:
        lags: list[PartitionLag] = []
        for spec in specs:
            with contextlib.suppress(UnknownTopicError):
                lags += reader.group_lag(stream_groups(config, [spec]))
        return lags


def backlogs(lags: Sequence[PartitionLag], specs: Sequence[StreamSpec]) -> dict[str, Backlog]:
    """The streams that lag, by name, in stream-table order."""
    by_group: dict[str, list[PartitionLag]] = {}
    for lag in lags:
        by_group.setdefault(lag.group_id, []).append(lag)
    found = {spec.name: Backlog(spec, tuple(by_group.get(spec.group_id, ()))) for spec in specs}
    return {name: backlog for name, backlog in found.items() if backlog.lag > 0}


def build_lag_sensor(
    job: dg.JobDefinition, specs: Sequence[StreamSpec], *, interval: int, running: bool
) -> dg.SensorDefinition:
    """`consumer_lag`: a run of `job`, which follows every stream, when a consumer group lags and
    no run of it is queued or running. After failed runs it waits, longer after each."""

    @dg.sensor(
        name=LAG_SENSOR,
        job=job,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
        description=f"Starts `{job.name}` when a consumer group lags and no run of it is active.",
    )
    def consumer_lag(
        context: dg.SensorEvaluationContext, kafka: KafkaResource
    ) -> dg.SensorResult | dg.SkipReason:
        lagging = backlogs(SNAPSHOT.lag(kafka, specs), specs)
        if not lagging:
            return dg.SkipReason("no lag: every consumer group is at its end offsets")
        names = ", ".join(lagging)
        instance = context.instance
        active = instance.get_runs(
            dg.RunsFilter(job_name=job.name, statuses=[*WAITING, *RUNNING]), limit=1
        )
        if active:
            return dg.SkipReason(f"lag on {names}; run {active[0].run_id[:8]} follows the streams")
        wait = backoff(instance, job.name)
        if wait:
            return dg.SkipReason(f"lag on {names}; the last runs of {job.name} failed: {wait}")
        tags = {
            STREAMS_TAG: ",".join(lagging),
            "ownlens/lag": str(sum(b.lag for b in lagging.values())),
            **{STREAM_TAG_PREFIX + name: b.describe() for name, b in lagging.items()},
        }
        return dg.SensorResult(run_requests=[dg.RunRequest(tags=tags)])

    return consumer_lag


def backoff(instance: dg.DagsterInstance, job_name: str, now: float | None = None) -> str | None:
    """Why no run starts yet after the job's last runs failed (None once it may): it waits
    BACKOFF_S after one failure, twice as long after each further one, BACKOFF_MAX_S at most."""
    ended = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=FINISHED), limit=BACKOFF_LOOKBACK
    )
    failed = 0
    for record in ended:  # newest first
        if record.dagster_run.status != dg.DagsterRunStatus.FAILURE:
            break
        failed += 1
    if not failed or ended[0].end_time is None:
        return None
    pause = min(BACKOFF_S * 2 ** (failed - 1), BACKOFF_MAX_S)
    left = ended[0].end_time + pause - (time.time() if now is None else now)
    if left <= 0:
        return None
    return f"{failed} in a row; the next starts in {left:.0f} s"
