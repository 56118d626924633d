"""Lag sensors: one per consumer group; they read lag (never consume) and request ingest runs."""

import json
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING

import dagster as dg

from ownlens_kafka.lag import PartitionLag, UnknownTopicError, group_lag, stream_groups
from ownlens_kafka.streams import STREAMS, StreamSpec
from ownlens_pipelines.resources import KafkaResource

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

BACKLOG_TAG = "ownlens/backlog"
RETRIES = 2  # a failed run of the same backlog is requested again, this many times
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


class LagSnapshot:
    """Every group's lag read in one pass (one offset probe, one admin client) and shared, for
    `ttl` seconds, by the sensors the daemon evaluates in the same tick."""

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._taken: dict[str, tuple[float, dict[str, list[PartitionLag]]]] = {}

    def lag(self, kafka: KafkaResource, spec: StreamSpec) -> list[PartitionLag]:
        config = kafka.kafka_config()
        key = config.model_dump_json()
        with self._lock:
            taken = self._taken.get(key)
            if taken is None or time.monotonic() - taken[0] > self.ttl:
                try:
                    lags = group_lag(config, stream_groups(config, STREAMS))
                except UnknownTopicError:  # a missing topic must not blind the other sensors
                    return kafka.lag(spec)
                by_group: dict[str, list[PartitionLag]] = defaultdict(list)
                for lag in lags:
                    by_group[lag.group_id].append(lag)
                taken = (time.monotonic(), by_group)
                self._taken[key] = taken
        return taken[1].get(spec.group_id, [])


SNAPSHOT = LagSnapshot()


def build_lag_sensor(
    spec: StreamSpec, job: "UnresolvedAssetJobDefinition", *, interval: int, running: bool
) -> dg.SensorDefinition:
    """`<stream>_lag`: a run of the stream's ingest job whenever its group lags."""

    @dg.sensor(
        name=f"{spec.name}_lag",
        job=job,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
        description=f"Requests `{job.name}` when group `{spec.group_id}` lags on `{spec.topic}`.",
    )
    def lag_sensor(
        context: dg.SensorEvaluationContext, kafka: KafkaResource
    ) -> dg.SensorResult | dg.SkipReason:
        lags = SNAPSHOT.lag(kafka, spec)
        total = sum(p.lag for p in lags)
        ends = {str(p.partition): p.end for p in lags}
        if total == 0:
            return dg.SkipReason(f"no lag: {spec.group_id} is at the end offsets {ends}")
        active = context.instance.get_runs_count(dg.RunsFilter(job_name=job.name, statuses=ACTIVE))
        if active:
            return dg.SkipReason(f"lag {total}, but a run of {job.name} is in progress")
        # committed..end per partition: a run that ends with lag left gives a new key
        backlog = f"{spec.name}@" + ",".join(
            f"{p.partition}:{p.committed if p.committed is not None else '-'}..{p.end}"
            for p in sorted(lags, key=lambda lag: lag.partition)
        )
        failed = context.instance.get_runs_count(
            dg.RunsFilter(
                job_name=job.name,
                statuses=[dg.DagsterRunStatus.FAILURE],
                tags={BACKLOG_TAG: backlog},
            )
        )
        if failed >= RETRIES + 1:
            return dg.SkipReason(
                f"lag {total}: {failed} runs for this backlog failed; waiting "
                "for new events or a manual run"
            )
        run_key = backlog if not failed else f"{backlog}#retry{failed}"
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=run_key, tags={"ownlens/lag": str(total), BACKLOG_TAG: backlog}
                )
            ],
            cursor=json.dumps(ends, sort_keys=True),
        )

    return lag_sensor
