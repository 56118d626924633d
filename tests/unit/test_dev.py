"""`make run`'s bookkeeping (no broker): what an earlier session leaves is set aside, logs stay
bounded, the instance settings load, and a stack whose parent died is stopped by its watchdog."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.scheduler.instigation import InstigatorType, TickStatus
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager

from ownlens_kafka.broker import free_port
from ownlens_pipelines.dev import (
    DAGSTER_YAML,
    WATCHDOG,
    DevStack,
    Orphan,
    PortInUseError,
    bound_logs,
    dagster_yaml,
    listener_of,
    postgres_of,
    set_aside_previous_session,
    stop_in_order,
    workspace_yaml,
)
from tests.conftest import wait_for
from tests.postgres import fresh_database


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


def test_instance_keeps_ticks_a_day_and_no_compute_logs(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.compute_log_manager, NoOpComputeLogManager)
        sensor = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        assert sensor == {
            TickStatus.STARTED: -1,  # in progress: the daemon's
            TickStatus.SKIPPED: 1,
            TickStatus.SUCCESS: 1,
            TickStatus.FAILURE: 7,
        }
        schedule = instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
        assert set(schedule.values()) == {7}


PG = {
    "DAGSTER_PG_HOST": "db.example",
    "DAGSTER_PG_PORT": "6543",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "s3cret",
    "DAGSTER_PG_DB": "history",
}


def test_without_dagster_pg_the_instance_is_sqlite() -> None:
    assert dagster_yaml({"DAGSTER_PG_DB": "history"}) == DAGSTER_YAML
    assert postgres_of({}) is None


def test_with_dagster_pg_the_instance_names_the_variables_and_writes_no_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = dagster_yaml(PG)
    assert "s3cret" not in text
    database = yaml.safe_load(text)["storage"]["postgres"]["postgres_db"]
    assert database == {
        "scheme": "postgresql+psycopg2",  # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    for name, value in PG.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text(text)
    config, _ = dagster_instance_config(str(tmp_path))  # checked against Dagster's schema
    assert config["retention"]["sensor"]["purge_after_days"]["skipped"] == 1
    assert postgres_of(PG) == "history on db.example:6543"


def test_dagster_pg_host_alone_uses_the_local_defaults() -> None:
    database = yaml.safe_load(dagster_yaml({"DAGSTER_PG_HOST": "127.0.0.1"}))["storage"]
    assert database["postgres"]["postgres_db"] == {
        "scheme": "postgresql+psycopg2",
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": 5432,
        "username": "postgres",
        "db_name": "postgres",
    }
    assert postgres_of({"DAGSTER_PG_HOST": "127.0.0.1"}) == "postgres on 127.0.0.1:5432"


def test_the_postgres_instance_keeps_its_runs_on_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_database() as database:
        for name, value in database.env.items():
            monkeypatch.setenv(name, value)
        (tmp_path / "dagster.yaml").write_text(dagster_yaml(os.environ))
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            assert isinstance(instance.compute_log_manager, NoOpComputeLogManager)
            instance.add_run(dg.DagsterRun(job_name="demo", status=dg.DagsterRunStatus.SUCCESS))
        assert database.rows("runs") == 1


def test_a_port_in_use_is_named_with_what_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    said: list[str] = []
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        stack = DevStack(port=port, broker_port=free_port(), say=said.append)
        with pytest.raises(PortInUseError) as raised:
            stack.run()
    assert said == [] and list(tmp_path.iterdir()) == []  # nothing started, nothing moved
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"port {port} on 127.0.0.1 is in use by pid {os.getpid()} (")
    assert message.endswith("stop it, or choose another with --port")
    assert listener_of(free_port()) is None


def test_a_log_past_its_limit_is_rotated_and_its_writer_goes_on(tmp_path: Path) -> None:
    log = tmp_path / "dagster.log"
    with open(log, "ab", buffering=0) as writer:  # as a child holds it: O_APPEND
        writer.write(b"x" * 100)
        assert bound_logs(tmp_path, limit=64) == ["dagster.log"]
        writer.write(b"after\n")
    assert (tmp_path / "dagster.log.1").read_bytes() == b"x" * 100
    assert log.read_bytes() == b"after\n"  # at the start of the emptied file, no hole
    assert bound_logs(tmp_path, limit=64) == []
    (tmp_path / "dagster.log.1").write_text("older")
    assert "dagster.log.1" in set_aside_previous_session(tmp_path, embedded=False)


# A group leader that stops its own child on SIGINT, as Dagster's processes do; or ignores it.
LEADER = """\
import signal, subprocess, sys, time
child = subprocess.Popen(["sleep", "60"])
def stop(*_):
    child.terminate(); child.wait(); sys.exit(0)
signal.signal(signal.SIGINT, stop if sys.argv[1] == "polite" else signal.SIG_IGN)
print(child.pid, flush=True)
time.sleep(60)
"""


def leader(kind: str) -> tuple[subprocess.Popen[str], psutil.Process]:
    process = subprocess.Popen(
        [sys.executable, "-c", LEADER, kind],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    return process, psutil.Process(int(process.stdout.readline()))


def gone(*processes: psutil.Process) -> bool:
    return all(
        not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in processes
    )  # where init does not reap, a zombie stays


def test_the_watchdog_stops_the_stack_when_its_parent_died(tmp_path: Path) -> None:
    first, its_child = leader("polite")
    broker = subprocess.Popen(["sleep", "60"])
    watchdog = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG],
        stdin=subprocess.PIPE,
        stdout=(tmp_path / "dev.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    assert watchdog.stdin is not None
    lines = [f"port {free_port()}", f"child daemon {first.pid}", f"broker {broker.pid}"]
    watchdog.stdin.write("".join(f"{line}\n" for line in lines).encode())
    started = time.monotonic()
    watchdog.stdin.close()  # as when `ownlens dev` dies: the pipe's only writer is gone
    assert watchdog.wait(10) == 0
    assert time.monotonic() - started < 5
    assert first.wait(1) == 0 and broker.wait(1) == -signal.SIGTERM
    assert gone(its_child)
    assert "ownlens dev ended first; stopping daemon" in (tmp_path / "dev.log").read_text()


def test_the_watchdog_leaves_a_stack_stopped_in_order_alone() -> None:
    process, its_child = leader("polite")
    watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG], stdin=subprocess.PIPE)
    watchdog.communicate(f"child daemon {process.pid}\nstopped\n".encode(), timeout=10)
    assert watchdog.returncode == 0
    assert process.poll() is None and its_child.is_running()
    stop_in_order({"daemon": Orphan(process.pid)}, free_port(), print, budget=5)
    assert process.wait(1) == 0 and gone(its_child)


def test_a_group_that_ignores_its_signal_is_killed_after_the_timeout() -> None:
    process, its_child = leader("stubborn")
    said: list[str] = []
    started = time.monotonic()
    stop_in_order({"code_server": process}, free_port(), said.append, budget=1)
    assert time.monotonic() - started < 3
    assert process.wait(1) == -signal.SIGKILL
    wait_for(lambda: gone(its_child), timeout=5, what="its child killed with it")
    assert said == ["code_server did not stop within 1.0 s; killing it"]


def test_what_is_said_survives_a_reader_gone(tmp_path: Path) -> None:
    (tmp_path / ".ownlens").mkdir()
    script = (
        "from ownlens_pipelines.dev import DevStack\n"
        "stack = DevStack()\n"
        "stack.say('one'); stack.say('two')\n"
        "print('after', flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    process.stdout.close()  # `make run | tee`, tee gone
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()
    assert (tmp_path / ".ownlens" / "dev.log").read_text().splitlines() == ["one", "two", "after"]
