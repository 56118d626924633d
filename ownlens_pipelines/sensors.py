"""The lag sensor: every consumer group's lag read in one pass (never consuming), and one ingest
run requested for all the streams that lag and that no queued or running run covers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import LagReader, PartitionLag, UnknownTopicError, stream_groups
from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.assets.raw import raw_key
from ownlens_pipelines.resources import KafkaResource

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

LAG_SENSOR = "consumer_lag"
BACKLOG_TAG = "ownlens/backlog"  # digest of every stream's committed..end range in the request
STREAM_TAG_PREFIX = "ownlens/backlog/"  # + stream name: that stream's range, partition by partition
STREAMS_TAG = "ownlens/streams"
RETRIES = 2  # a failed run of the same backlog is requested again, this many times
WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]
RUNNING = [dg.DagsterRunStatus.STARTED]


class AutomationSettings(BaseSettings):
    """How often domain tables are rebuilt, and how stale a lagging stream may get."""

    model_config = SettingsConfigDict(env_prefix="OWNLENS_", extra="ignore", frozen=True)

    domain_interval: int = Field(
        default=30, ge=1, description="Seconds between two rebuilds of the domain tables, at least."
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

    def covered_by(self, run: dg.DagsterRun) -> bool:
        """The run was requested for this stream with these end offsets or later ones."""
        requested = run.tags.get(STREAM_TAG_PREFIX + self.spec.name)
        if requested is None:
            return False
        ends = {}
        for part in requested.split(","):
            partition, _, span = part.partition(":")
            ends[int(partition)] = int(span.rpartition("..")[2])
        return all(end <= ends.get(partition, -1) for partition, end in self.ends.items())


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
                taken = (time.monotonic(), _read(reader, config, specs))
                self._taken[key] = taken
        return taken[1]

    def close(self) -> None:
        with self._lock:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()
            self._taken.clear()


SNAPSHOT = LagSnapshot()


def _read(
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


def _writing(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """The run's step has started. A run still starting its process reads its end offsets only
    once its step starts, so it covers whatever lags until then."""
    started = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1
    )
    return bool(started.records)


def digest(pending: Mapping[str, Backlog]) -> str:
    text = ";".join(f"{name}@{backlog.describe()}" for name, backlog in sorted(pending.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_lag_sensor(
    job: UnresolvedAssetJobDefinition,
    specs: Sequence[StreamSpec],
    *,
    interval: int,
    running: bool,
) -> dg.SensorDefinition:
    """`consumer_lag`: one run of `job` for every stream whose group lags, unless a queued run
    will start soon (what it leaves out is requested once it runs) or a running one was
    requested for the same end offsets. A backlog whose runs failed is requested again, up to
    RETRIES times, then waits for new events or a manual run."""

    @dg.sensor(
        name=LAG_SENSOR,
        job=job,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
        description=f"Requests `{job.name}` for every stream whose consumer group lags.",
    )
    def consumer_lag(
        context: dg.SensorEvaluationContext, kafka: KafkaResource
    ) -> dg.SensorResult | dg.SkipReason:
        lagging = backlogs(SNAPSHOT.lag(kafka, specs), specs)
        if not lagging:
            return dg.SkipReason("no lag: every consumer group is at its end offsets")
        names = ", ".join(lagging)
        instance = context.instance
        active = instance.get_runs(dg.RunsFilter(job_name=job.name, statuses=[*WAITING, *RUNNING]))
        if any(run.status in WAITING or not _writing(instance, run) for run in active):
            return dg.SkipReason(
                f"lag on {names}; a queued run of {job.name} reads it when it starts"
            )
        pending = {
            name: backlog
            for name, backlog in lagging.items()
            if not any(backlog.covered_by(run) for run in active)
        }
        if not pending:
            return dg.SkipReason(f"lag on {names}; the run in progress covers it")
        ended = instance.get_runs(
            dg.RunsFilter(
                job_name=job.name,
                statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
            ),
            limit=100,
        )
        given_up = [
            name
            for name, backlog in pending.items()
            if sum(
                run.status == dg.DagsterRunStatus.FAILURE
                and run.tags.get(STREAM_TAG_PREFIX + name) == backlog.describe()
                for run in ended
            )
            > RETRIES
        ]
        for name in given_up:
            del pending[name]
        if not pending:
            return dg.SkipReason(
                f"lag on {names}; {RETRIES + 1} runs failed on the backlog of "
                f"{', '.join(given_up)}: waiting for new events or a manual run"
            )
        key = digest(pending)
        attempts = sum(run.tags.get(BACKLOG_TAG) == key for run in ended)
        tags = {
            BACKLOG_TAG: key,
            STREAMS_TAG: ",".join(pending),
            "ownlens/lag": str(sum(b.lag for b in pending.values())),
            **{STREAM_TAG_PREFIX + name: b.describe() for name, b in pending.items()},
        }
        request = dg.RunRequest(
            run_key=f"ingest@{key}" + (f"#retry{attempts}" if attempts else ""),
            asset_selection=[raw_key(b.spec) for b in pending.values()],
            tags=tags,
        )
        ends = {name: b.ends for name, b in lagging.items()}
        return dg.SensorResult(run_requests=[request], cursor=json.dumps(ends, sort_keys=True))

    return consumer_lag
