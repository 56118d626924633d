"""`make run`'s session bookkeeping: what an earlier session leaves is set aside (no broker)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from ownlens_pipelines.dev import DAGSTER_YAML, set_aside_previous_session, workspace_yaml


def session(state: Path, tag: str) -> None:
    """What one session leaves: a log per process, a warehouse, a Dagster home."""
    (state / "dagster_home").mkdir(parents=True)
    (state / "dagster_home" / "runs.db").write_text(tag)
    (state / "lake" / "raw" / "user_events" / "_delta_log").mkdir(parents=True)
    (state / "lake" / "raw" / "user_events" / "_delta_log" / "0.json").write_text(tag)
    for name in ("broker.log", "dagster.log", "generator.log"):
        (state / name).write_text(tag)


def test_logs_warehouse_and_history_of_the_last_session_move_aside(tmp_path: Path) -> None:
    state = tmp_path / ".ownlens"
    session(state, "first")
    assert set_aside_previous_session(state, embedded=True)
    session(state, "second")
    moved = set_aside_previous_session(state, embedded=True)
    assert set(moved) == {"broker.log", "dagster.log", "generator.log", "lake"} | {"dagster_home"}
    previous = state / "previous"
    assert {p.name for p in previous.iterdir()} == set(moved)  # the first session is gone
    assert (previous / "dagster.log").read_text() == "second"
    assert (previous / "dagster_home" / "runs.db").read_text() == "second"
    assert (previous / "lake" / "raw" / "user_events" / "_delta_log" / "0.json").read_text() == (
        "second"
    )
    assert [p.name for p in state.iterdir()] == ["previous"]


def test_with_an_external_cluster_only_the_logs_move(tmp_path: Path) -> None:
    state = tmp_path / ".ownlens"
    session(state, "first")
    assert set_aside_previous_session(state, embedded=False) == [
        "broker.log",
        "dagster.log",
        "generator.log",
    ]
    assert (state / "lake").exists() and (state / "dagster_home").exists()
    assert set_aside_previous_session(state, embedded=False) == []  # nothing left to move


def test_instance_settings_load_and_turn_off_the_community_dialog(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert not instance.nux_enabled
        assert not instance.telemetry_enabled
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1  # one warehouse writer


def test_the_workspace_points_at_the_one_code_server() -> None:
    [entry] = yaml.safe_load(workspace_yaml(4321))["load_from"]
    assert entry == {"grpc_server": {"host": "127.0.0.1", "port": 4321, "location_name": "ownlens"}}
