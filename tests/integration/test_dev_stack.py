"""`make run` as a user runs it: broker, demo traffic, `dagster dev`, data flowing, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil

from ownlens_kafka.broker import free_port
from tests.conftest import wait_for

QUERY = """{ assetsOrError { __typename ... on AssetConnection { nodes { key { path }
  assetMaterializations(limit: 1) { timestamp } } } } }"""


def materialized(port: int) -> set[str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
    except OSError:
        return set()
    nodes = body["data"]["assetsOrError"].get("nodes", [])
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
    try:
        raw = wait_for(
            lambda: {a for a in materialized(ui) if a.startswith("raw/")} or None,
            timeout=300,
            interval=2,
            what="raw assets materialized in the UI",
        )
        assert raw
        assert (
            len(psutil.Process(stack.pid).children(recursive=True)) >= 3
        )  # broker, generator, dagster dev and its children
        assert (tmp_path / ".ownlens" / "warehouse.duckdb").exists()
    finally:
        family = psutil.Process(stack.pid).children(recursive=True)
        os.kill(stack.pid, signal.SIGINT)
        try:
            code: int | None = stack.wait(90)
        except subprocess.TimeoutExpired:
            code = None
            family.append(psutil.Process(stack.pid))
        _, alive = psutil.wait_procs(family, timeout=30)
        for process in alive:
            process.kill()
    output = (tmp_path / "dev.log").read_text()
    assert "Dagster:   http://127.0.0.1:" in output and "Warehouse:" in output
    assert code == 0, output
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
