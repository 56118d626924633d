"""`make run` as a user runs it: broker, demo traffic, Dagster, data flowing, a clean stop."""

from __future__ import annotations

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

from ownlens_kafka.broker import free_port
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


def test_dev_stack_shows_materializations_and_stops_cleanly(tmp_path: Path) -> None:
    ui, broker = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "OWNLENS_"))}
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:  # an external cluster: use it, in a namespace
        env |= {
            "KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            "KAFKA_NAMESPACE": f"dev{ui}.",
        }
    env["OWNLENS_SENSOR_INTERVAL"] = "2"
    stack = subprocess.Popen(
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
        stdout=(tmp_path / "dev.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # as `make run &` from a script starts it: SIGINT ignored, and inherited so by children
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
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
        for process in alive:
            process.kill()
    output = (tmp_path / "dev.log").read_text()
    assert "Dagster:   http://127.0.0.1:" in output and "Warehouse:" in output
    assert code == 0, output
    assert "killing it" not in output  # every process stopped on its signal: no SIGKILL
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
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
