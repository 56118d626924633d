"""The code location as Dagster loads it: raw multi-asset and checks, ingest job, lag sensor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import dagster as dg
from confluent_kafka import Producer

from ownlens_kafka import STREAMS, get_stream
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.lag import group_lag
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.assets.raw import OP_NAME
from ownlens_pipelines.factory import INGEST_JOB
from ownlens_pipelines.ingestion import FOLLOW_JOB, FOLLOW_OP
from ownlens_pipelines.sensors import LAG_SENSOR, STREAM_TAG_PREFIX
from tests.factories import valid_payload
from tests.helpers import ROOT, delta_count, publish

SPEC = get_stream("user_events")
SESSIONS = get_stream("sessions")
CHECKS = {"keys_not_null", "unique_ids", "fresh"}


def skip_message(result: object) -> str:
    """Why a sensor evaluation skipped; it must have skipped, saying why."""
    assert isinstance(result, dg.SkipReason), result
    assert result.skip_message is not None
    return result.skip_message


def raw_rows(env, stream: str = "user_events") -> int:
    return delta_count(env["OWNLENS_WAREHOUSE"], f"raw.{stream}")


def publish_to(spec: StreamSpec, count: int, config: KafkaConfig) -> None:
    """`count` valid events of the stream, delivered."""
    producer: BaseKafkaProducer[Any]
    with BaseKafkaProducer(config, stream=spec) as producer:
        for _ in range(count):
            producer.publish(valid_payload(spec.model))


def publish_invalid(spec: StreamSpec, config: KafkaConfig) -> None:
    """A record no consumer can decode: it ends up in the stream's dead-letter topic."""
    producer = Producer(config.producer_config())
    producer.produce(config.topic_name(spec.topic), b"not json", key=b"k")
    assert producer.flush(10) == 0


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Each materialized raw asset's metadata values, by stream name."""
    return {
        event.asset_key.path[-1]: {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }


def check_results(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()
    }


def test_every_stream_has_a_raw_asset_with_checks_and_described_columns(
    defs: dg.Definitions,
) -> None:
    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def(INGEST_JOB)
    for spec in STREAMS:
        key = dg.AssetKey(["raw", spec.name])
        node = graph.get(key)
        assert node.group_name == spec.domain
        assert {"kafka", "deltalake"} <= set(node.kinds)
        assert node.description and node.owners
        assert {c.name for c in graph.get_check_keys_for_assets({key})} == CHECKS
        schema = node.metadata["dagster/column_schema"]
        undescribed = [c.name for c in schema.columns if not c.description]
        assert not undescribed, f"{spec.name}: columns without a description: {undescribed}"
        assert {"_topic_id", "_partition", "_offset"} <= {c.name for c in schema.columns}
        assert key in job.asset_layer.executable_asset_keys
    sensor = defs.resolve_sensor_def(LAG_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert [s.name for s in defs.sensors or []].count(LAG_SENSOR) == 1
    domains = {key.path[0] for key in graph.get_all_asset_keys() if key.path[0] != "raw"}
    assert domains == {s.domain for s in STREAMS}


def test_definitions_validate_as_dagster_loads_them(env) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_etl_and_reprocessing_jobs_are_in_the_code_location(defs: dg.Definitions) -> None:
    for name in (
        "extract_stream",
        "republish_stream",
        "reprocess_stream",
        "replay_stream_dead_letters",
    ):
        assert defs.resolve_job_def(name).description, name


def test_one_run_ingests_each_selected_stream_with_its_own_metadata_and_checks(
    defs, env, kafka_config
) -> None:
    publish(12, kafka_config)
    publish_to(SESSIONS, 4, kafka_config)
    publish_invalid(SPEC, kafka_config)
    job = defs.resolve_job_def(INGEST_JOB)
    instance = dg.DagsterInstance.ephemeral()
    selection = [dg.AssetKey(["raw", "user_events"]), dg.AssetKey(["raw", "sessions"])]
    result = job.execute_in_process(instance=instance, asset_selection=selection)
    assert result.success
    first = materializations(result)
    assert set(first) == {"user_events", "sessions"}
    assert first["user_events"]["rows_written"] == 12 and first["sessions"]["rows_written"] == 4
    assert first["user_events"]["dead_lettered"] == 1
    assert (first["user_events"]["dlq_depth"], first["user_events"]["dlq_added"]) == (1, 1)
    assert (first["sessions"]["dlq_depth"], first["sessions"]["dlq_added"]) == (0, 0)
    assert all(m["lag_after"] == 0 for m in first.values())
    assert check_results(result) == {
        (stream, check): True for stream in ("user_events", "sessions") for check in CHECKS
    }
    assert (raw_rows(env), raw_rows(env, "sessions")) == (12, 4)
    publish_invalid(SPEC, kafka_config)
    again = materializations(job.execute_in_process(instance=instance, asset_selection=selection))
    assert again["user_events"]["rows_written"] == 0 == again["sessions"]["rows_written"]
    assert (again["user_events"]["dlq_depth"], again["user_events"]["dlq_added"]) == (2, 1)
    assert (raw_rows(env), raw_rows(env, "sessions")) == (12, 4)


def test_freshness_warns_when_the_newest_row_is_too_old_while_the_topic_lags(
    defs, env, kafka_config
) -> None:
    from ownlens_pipelines.assets.raw import build_raw_assets

    publish(3, kafka_config)
    # a bound no row can meet: the check fails whenever events wait in the topic
    assets = build_raw_assets([SPEC], freshness_bound=1e-6)

    def fresh(**config: int) -> dg.AssetCheckEvaluation:
        result = dg.materialize(
            [assets], resources=defs.resources, run_config={"ops": {OP_NAME: {"config": config}}}
        )
        [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "fresh"]
        return evaluation

    behind = fresh(max_records=1)  # one of three read: two wait
    assert not behind.passed and behind.severity == dg.AssetCheckSeverity.WARN
    assert behind.metadata["lag"].value == 2
    assert cast(float, behind.metadata["newest_row_age_s"].value) > 0
    caught_up = fresh()
    assert caught_up.passed and caught_up.metadata["lag"].value == 0


def test_sensor_starts_one_follow_run_when_streams_lag_and_none_is_active(
    defs, kafka_config, monkeypatch
) -> None:
    from ownlens_pipelines import sensors

    monkeypatch.setattr(sensors.SNAPSHOT, "ttl", 0.0)  # each evaluation reads the broker anew
    sensor = defs.resolve_sensor_def(LAG_SENSOR)
    assert sensor.job_name == FOLLOW_JOB
    instance = dg.DagsterInstance.ephemeral()

    def evaluate():
        return sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))

    assert "no lag" in skip_message(evaluate())
    publish(9, kafka_config)
    publish_to(SESSIONS, 3, kafka_config)
    [request] = evaluate().run_requests
    assert request.run_key is None  # an active run holds the next ones back, not a key
    assert request.tags["ownlens/lag"] == "12"
    assert request.tags["ownlens/streams"] == "user_events,sessions"
    ranges = request.tags[STREAM_TAG_PREFIX + "user_events"].split(",")
    assert len(ranges) == SPEC.partitions and all(r.split(":")[1].startswith("-..") for r in ranges)
    for status in (
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ):
        active = dg.DagsterRun(job_name=FOLLOW_JOB, status=status, tags=request.tags)
        instance.add_run(active)
        assert "follows the streams" in skip_message(evaluate()), status
        instance.delete_run(active.run_id)
    instance.add_run(dg.DagsterRun(job_name=FOLLOW_JOB, status=dg.DagsterRunStatus.SUCCESS))
    assert evaluate().run_requests  # a run that ended is no reason to wait


def test_after_failed_runs_the_sensor_waits_longer_each_time(defs) -> None:
    from ownlens_pipelines.sensors import BACKOFF_MAX_S, BACKOFF_S, backoff

    instance = dg.DagsterInstance.ephemeral()

    def ended(failed: bool) -> float:
        run = instance.add_run(
            dg.DagsterRun(job_name=FOLLOW_JOB, status=dg.DagsterRunStatus.STARTED)
        )
        kind = dg.DagsterEventType.RUN_FAILURE if failed else dg.DagsterEventType.RUN_SUCCESS
        instance.report_dagster_event(
            dg.DagsterEvent(event_type_value=kind.value, job_name=FOLLOW_JOB), run.run_id
        )
        [record] = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))
        assert record.end_time is not None
        return record.end_time

    assert backoff(instance, FOLLOW_JOB) is None
    last = ended(failed=True)
    assert "1 in a row" in (backoff(instance, FOLLOW_JOB, now=last + 1) or "")
    assert backoff(instance, FOLLOW_JOB, now=last + BACKOFF_S + 1) is None
    for _ in range(9):
        last = ended(failed=True)
    assert "10 in a row" in (backoff(instance, FOLLOW_JOB, now=last + BACKOFF_MAX_S - 1) or "")
    assert backoff(instance, FOLLOW_JOB, now=last + BACKOFF_MAX_S + 1) is None  # capped
    ended(failed=False)
    assert backoff(instance, FOLLOW_JOB) is None


def test_a_follow_run_writes_as_events_arrive_and_reports_per_interval(
    defs, env, kafka_config
) -> None:
    publish(12, kafka_config)
    publish_to(SESSIONS, 4, kafka_config)
    publish_invalid(SPEC, kafka_config)
    instance = dg.DagsterInstance.ephemeral()
    config = {"report_interval": 1.0, "idle_timeout": 4.0, "max_duration": 60.0}
    result = defs.resolve_job_def(FOLLOW_JOB).execute_in_process(
        instance=instance, run_config={"ops": {FOLLOW_OP: {"config": config}}}
    )
    assert result.success
    written: dict[str, int] = {}
    lettered: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        values = {k: v.value for k, v in event.materialization.metadata.items()}
        stream = event.asset_key.path[-1]
        written[stream] = written.get(stream, 0) + cast(int, values["rows_written"])
        lettered[stream] = lettered.get(stream, 0) + cast(int, values["dead_lettered"])
        assert values["interval_s"] is not None
    assert written == {"user_events": 12, "sessions": 4}
    assert lettered == {"user_events": 1, "sessions": 0}
    evaluations = result.get_asset_check_evaluations()
    assert {(e.asset_key.path[-1], e.check_name) for e in evaluations} == {
        (stream, check) for stream in ("user_events", "sessions") for check in CHECKS
    }
    assert [(e.check_name, e.metadata) for e in evaluations if not e.passed] == []
    assert (raw_rows(env), raw_rows(env, "sessions")) == (12, 4)
    # what the UI asks: each check has a result for the asset's latest materialization
    keys = [
        dg.AssetCheckKey(dg.AssetKey(["raw", stream]), check)
        for stream in ("user_events", "sessions")
        for check in CHECKS
    ]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    assert {(r.status.value, r.run_id) for r in latest.values()} == {("SUCCEEDED", result.run_id)}
    assert len(latest) == len(keys)


def test_the_lag_of_every_group_is_read_once_per_tick(defs, kafka_config, monkeypatch) -> None:
    from ownlens_kafka.lag import LagReader
    from ownlens_pipelines import sensors

    reads: list[int] = []
    original = LagReader.group_lag

    def counted(self: LagReader, groups: dict[str, list[str]]) -> Any:
        reads.append(len(groups))
        return original(self, groups)

    monkeypatch.setattr(LagReader, "group_lag", counted)
    monkeypatch.setattr(sensors, "SNAPSHOT", sensors.LagSnapshot(ttl=30.0))
    publish(4, kafka_config)
    instance = dg.DagsterInstance.ephemeral()
    sensor = defs.resolve_sensor_def(LAG_SENSOR)
    results = [
        sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
        for _ in range(3)
    ]
    assert reads == [len(STREAMS)]  # one read for all groups, then the cached snapshot
    assert all(r.run_requests[0].tags["ownlens/lag"] == "4" for r in results)
    sensors.SNAPSHOT.close()


def test_etl_ops_extract_and_republish_a_stream(defs, env, kafka_config) -> None:
    publish(5, kafka_config)
    instance = dg.DagsterInstance.ephemeral()
    stream = {"stream": "user_events"}
    extract = defs.resolve_job_def("extract_stream").execute_in_process(
        instance=instance, run_config={"ops": {"kafka_extract": {"config": stream}}}
    )
    assert extract.success and extract.output_for_node("kafka_extract")["rows_written"] == 5
    republish = defs.resolve_job_def("republish_stream").execute_in_process(
        instance=instance,
        run_config={
            "ops": {"read_raw_table": {"config": stream}, "kafka_load": {"config": stream}}
        },
    )
    assert republish.success
    assert republish.output_for_node("kafka_load")["delivered"] == 5
    assert (
        sum(
            p.lag
            for p in group_lag(kafka_config, {SPEC.group_id: [kafka_config.topic_name(SPEC.topic)]})
        )
        == 5
    )  # the five, published again
