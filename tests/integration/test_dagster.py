"""The code location as Dagster loads it: definitions, raw assets, checks, sensors, jobs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

from ownlens_kafka import STREAMS, get_stream
from ownlens_kafka.lag import group_lag
from tests.helpers import ROOT, one_row, publish

SPEC = get_stream("user_events")


def skip_message(result: object) -> str:
    """Why a sensor evaluation skipped; it must have skipped, saying why."""
    assert isinstance(result, dg.SkipReason), result
    assert result.skip_message is not None
    return result.skip_message


def raw_rows(env, stream: str = "user_events") -> int:
    with duckdb.connect(env["OWNLENS_WAREHOUSE"], read_only=True) as connection:
        return int(one_row(connection, f"SELECT count(*) FROM raw.{stream}")[0])


def test_every_stream_has_asset_checks_job_and_sensor(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for spec in STREAMS:
        key = dg.AssetKey(["raw", spec.name])
        node = graph.get(key)
        assert node.group_name == spec.domain
        assert {"kafka", "duckdb"} <= set(node.kinds)
        assert node.description and node.owners
        checks = {c.name for c in graph.get_check_keys_for_assets({key})}
        assert checks == {"keys_not_null", "unique_ids", "fresh"}
        assert defs.resolve_job_def(f"ingest_{spec.name}") is not None
        sensor = defs.resolve_sensor_def(f"{spec.name}_lag")
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
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


def test_ingest_job_materializes_new_events_once(defs, env, kafka_config) -> None:
    publish(12, kafka_config)
    job = defs.resolve_job_def("ingest_user_events")
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance)
    assert result.success
    [materialization] = result.asset_materializations_for_node(
        job.nodes_in_topological_order[0].name
    )
    assert materialization.metadata["rows_written"].value == 12
    assert materialization.metadata["lag_after"].value == 0
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"keys_not_null": True, "unique_ids": True, "fresh": True}
    assert raw_rows(env) == 12
    again = job.execute_in_process(instance=instance)
    [second] = again.asset_materializations_for_node(job.nodes_in_topological_order[0].name)
    assert second.metadata["rows_written"].value == 0
    assert raw_rows(env) == 12


def test_sensor_requests_a_run_only_when_the_group_lags(defs, kafka_config, monkeypatch) -> None:
    from ownlens_pipelines import sensors

    monkeypatch.setattr(sensors.SNAPSHOT, "ttl", 0.0)  # each evaluation reads the broker anew
    sensor = defs.resolve_sensor_def("user_events_lag")
    instance = dg.DagsterInstance.ephemeral()

    def evaluate():
        context = dg.build_sensor_context(instance=instance, resources=defs.resources)
        return sensor(context)

    idle = evaluate()
    assert "no lag" in skip_message(idle)
    publish(9, kafka_config)
    first, second = evaluate(), evaluate()
    [request] = first.run_requests
    assert request.run_key == second.run_requests[0].run_key
    assert request.run_key.startswith("user_events@")
    ends = json.loads(first.cursor)
    assert sum(ends.values()) == 9 and request.tags["ownlens/lag"] == "9"
    publish(1, kafka_config)
    assert evaluate().run_requests[0].run_key != request.run_key
    assert defs.resolve_job_def("ingest_user_events").execute_in_process(instance=instance).success
    done = evaluate()
    assert "no lag" in skip_message(done)


def test_sensors_of_one_tick_share_one_lag_read(defs, kafka_config, monkeypatch) -> None:
    from ownlens_pipelines import sensors

    reads = []

    def counted_group_lag(*args, **kwargs):
        reads.append(1)
        return group_lag(*args, **kwargs)

    monkeypatch.setattr(sensors, "group_lag", counted_group_lag)
    monkeypatch.setattr(sensors, "SNAPSHOT", sensors.LagSnapshot(ttl=30.0))
    publish(4, kafka_config)
    instance = dg.DagsterInstance.ephemeral()
    results = {
        spec.name: defs.resolve_sensor_def(f"{spec.name}_lag")(
            dg.build_sensor_context(instance=instance, resources=defs.resources)
        )
        for spec in STREAMS
    }
    assert len(reads) == 1
    assert results["user_events"].run_requests[0].tags["ownlens/lag"] == "4"
    assert all(isinstance(r, dg.SkipReason) for n, r in results.items() if n != "user_events")


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


def test_a_failed_backlog_is_retried_a_bounded_number_of_times(
    defs, kafka_config, monkeypatch
) -> None:
    from ownlens_pipelines import sensors

    monkeypatch.setattr(sensors.SNAPSHOT, "ttl", 0.0)
    sensor = defs.resolve_sensor_def("user_events_lag")
    job = defs.resolve_job_def("ingest_user_events")
    instance = dg.DagsterInstance.ephemeral()
    publish(3, kafka_config)

    def evaluate():
        return sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))

    def fail(request) -> None:  # max_records=0 is rejected: the run fails before reading
        result = job.execute_in_process(
            instance=instance,
            tags=request.tags,
            raise_on_error=False,
            run_config={"ops": {"raw__user_events": {"config": {"max_records": 0}}}},
        )
        assert not result.success

    first = evaluate().run_requests[0]
    fail(first)
    retry = evaluate().run_requests[0]
    assert retry.run_key == f"{first.run_key}#retry1"
    fail(retry)
    fail(evaluate().run_requests[0])
    given_up = evaluate()
    assert "3 runs for this backlog failed" in skip_message(given_up)
