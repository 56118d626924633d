"""`make run` as a user runs it: broker, demo traffic, Dagster, data flowing, a clean stop."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
import pytest
import yaml

from ownlens_kafka.broker import free_port, port_in_use
from tests.conftest import wait_for

QUERY = """{ assetsOrError { __typename ... on AssetConnection { nodes { key { path }
  assetMaterializations(limit: 1) { timestamp } } } } }"""


# what a clean stop leaves in no log: a Python traceback, a run interrupted mid-step, a
# warning about a superseded or deprecated entry point
UNCLEAN = re.compile(r"Traceback|Stack Trace|SupersessionWarning|DeprecationWarning|deprecated")


def graphql(port: int, query: str) -> dict[str, Any] | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            data: dict[str, Any] = json.load(response)["data"]
            return data
    except OSError:
        return None


def materialized(port: int) -> set[str]:
    data = graphql(port, QUERY)
    nodes = data["assetsOrError"].get("nodes", []) if data else []
    return {"/".join(n["key"]["path"]) for n in nodes if n["assetMaterializations"]}


def launch(tmp_path: Path, ui: int, broker: int, stdout: Any) -> subprocess.Popen[bytes]:
    """`ownlens dev` on free ports, in a session of its own, its output to `stdout`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "OWNLENS_"))}
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:  # an external cluster: use it, in a namespace
        env |= {
            "KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            "KAFKA_NAMESPACE": f"dev{ui}.",
        }
    env["OWNLENS_SENSOR_INTERVAL"] = "2"
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ownlens"),
            "dev",
            "--port",
            str(ui),
            "--broker-port",
            str(broker),
            "--rate",
            "50",
        ],
        cwd=tmp_path,
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # as `make run &` from a script starts it: SIGINT ignored, and inherited so by children
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def test_dev_stack_shows_materializations_and_stops_cleanly(tmp_path: Path) -> None:
    ui, broker = free_port(), free_port()
    stack = launch(tmp_path, ui, broker, (tmp_path / "dev.log").open("wb"))
    state = tmp_path / ".ownlens"
    try:
        raw = wait_for(
            lambda: {a for a in materialized(ui) if a.startswith("raw/")} or None,
            timeout=300,
            interval=2,
            what="raw assets materialized in the UI",
        )
        nux = graphql(ui, "{ shouldShowNux }")
        assert nux == {"shouldShowNux": False}  # no community dialog over the asset graph
        # broker, generator, code server, webserver, daemon
        assert len(psutil.Process(stack.pid).children(recursive=True)) >= 5
        assert (state / "lake").exists()
    finally:
        family = psutil.Process(stack.pid).children(recursive=True)
        stopping = time.monotonic()
        os.kill(stack.pid, signal.SIGINT)
        try:
            code: int | None = stack.wait(90)
        except subprocess.TimeoutExpired:
            code = None
            family.append(psutil.Process(stack.pid))
        print(f"the stack stopped in {time.monotonic() - stopping:.1f} s")  # bench/ measures it
        _, alive = psutil.wait_procs(family, timeout=30)
        stopped_in = time.monotonic() - stopping
        for process in alive:
            process.kill()
    output = (tmp_path / "dev.log").read_text()
    assert "Dagster:   http://127.0.0.1:" in output and "Warehouse:" in output
    assert code == 0, output
    assert "killing it" not in output  # every process stopped on its signal: no SIGKILL
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
    assert stopped_in < 10, f"the stop took {stopped_in:.1f} s"
    with dg.DagsterInstance.from_config(str(state / "dagster_home")) as instance:
        runs = instance.get_runs()
        per_run = [
            {
                record.asset_key
                for record in instance.get_records_for_run(
                    run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
                ).records
                if record.asset_key is not None and record.asset_key.path[0] == "raw"
            }
            for run in runs
        ]
    statuses = {run.status for run in runs}
    assert statuses <= {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED}, statuses
    assert raw and max(map(len, per_run)) > 1  # one run ingests every stream that lagged
    for log in [tmp_path / "dev.log", *state.glob("*.log")]:
        found = UNCLEAN.search(log.read_text(errors="replace"))
        assert found is None, f"{log.name}: {found.group(0) if found else ''}"


def running_in(sessions: set[int]) -> list[psutil.Process]:
    """The processes of `sessions` still running (a zombie is not: this machine's init does not
    reap orphans)."""
    found = []
    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getsid(process.pid) in sessions and process.info["status"] != "zombie":
                found.append(process)
    return found


STARTED = """{ runsOrError(filter: {statuses: [STARTED]}) { ... on Runs { results {
  stepStats { startTime } } } } }"""


def writing(port: int) -> bool:
    """A run (the long-lived follow run) has started a step: its process writes."""
    data = graphql(port, STARTED)
    runs = data["runsOrError"].get("results", []) if data else []
    return any(step["startTime"] for run in runs for step in run["stepStats"])


def alive(stack: subprocess.Popen[bytes]) -> bool:
    """`ownlens dev` still runs (fails the test when it ended by itself)."""
    if stack.poll() is not None:
        pytest.fail(f"ownlens dev exited with code {stack.returncode} before the signal")
    return True


@pytest.mark.parametrize(
    ("sig", "reader_gone"),
    [
        (signal.SIGHUP, False),  # the terminal closed
        (signal.SIGTERM, False),
        (signal.SIGINT, True),  # Ctrl-C on `make run | tee log`: tee is gone first
        (signal.SIGKILL, False),  # no stop at all: the watchdog stops the stack
    ],
    ids=["SIGHUP", "SIGTERM", "SIGINT-reader-gone", "SIGKILL"],
)
def test_no_process_of_the_stack_outlives_a_signal_to_it(
    tmp_path: Path, sig: signal.Signals, reader_gone: bool
) -> None:
    ui, broker = free_port(), free_port()
    output = subprocess.PIPE if reader_gone else (tmp_path / "dev.log").open("wb")
    stack = launch(tmp_path, ui, broker, output)
    state = tmp_path / ".ownlens"
    sessions = {stack.pid}  # ownlens dev's; each child has one of its own
    try:
        up = "the webserver up"
        wait_for(lambda: alive(stack) and port_in_use(ui), timeout=240, interval=0.5, what=up)
        run = "a run executing"
        wait_for(lambda: alive(stack) and writing(ui), timeout=240, interval=1, what=run)
        family = psutil.Process(stack.pid).children(recursive=True)
        sessions |= {os.getsid(process.pid) for process in family}
        code_port = yaml.safe_load((state / "dagster_home" / "workspace.yaml").read_text())[
            "load_from"
        ][0]["grpc_server"]["port"]
        if stack.stdout is not None:
            stack.stdout.close()  # the reader gone: every later write to stdout fails
        signalled = time.monotonic()
        os.kill(stack.pid, sig)
        left = running_in(sessions)
        while left and time.monotonic() - signalled < 10:
            time.sleep(0.1)
            stack.poll()  # ownlens dev itself is this test's child: reaped here
            left = running_in(sessions)
        took = time.monotonic() - signalled
    finally:
        if stack.poll() is None:  # the test failed before the signal: stop it
            stack.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                stack.wait(60)
        for process in running_in(sessions):
            with contextlib.suppress(psutil.Error):
                process.kill()
        code = stack.wait(10)
    print(f"{sig.name}: every process of the stack gone in {took:.1f} s")  # shown with -s
    # what ownlens dev said (its output, or its log where the reader was gone), and the watchdog
    said = "".join(
        log.read_text() for log in (tmp_path / "dev.log", state / "dev.log") if log.exists()
    )
    assert not left, f"alive 10 s after {sig.name}: {[(p.pid, p.name()) for p in left]}\n{said}"
    assert not [port for port in (ui, broker, code_port) if port_in_use(port)]
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 0), said
    if sig == signal.SIGKILL:
        assert "ownlens dev ended first; stopping" in said
    else:
        assert "stopping ..." in said
    for log in state.glob("*.log"):
        found = re.search(r"Traceback", log.read_text(errors="replace"))
        assert found is None, f"{log.name}: {log.read_text(errors='replace')[-3000:]}"
    with dg.DagsterInstance.from_config(str(state / "dagster_home")) as instance:
        statuses = {run.status for run in instance.get_runs()}
    # stopped in order, by ownlens dev or by its watchdog: no run failed or left running
    assert statuses <= {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED}, statuses
