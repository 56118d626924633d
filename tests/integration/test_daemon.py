"""End to end with the real Dagster daemon: produced events become rows, nobody launches a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psutil

from ownlens_pipelines.dev import DAGSTER_YAML
from ownlens_pipelines.warehouse import Warehouse
from tests.conftest import wait_for
from tests.helpers import ROOT, materialization, publish


def test_daemon_sensor_ingests_new_events(env, kafka_config, tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    publish(15, kafka_config)
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=ROOT,
        env={**os.environ, **env, "DAGSTER_HOME": str(home), "OWNLENS_SENSOR_INTERVAL": "1"},
        stdout=(tmp_path / "daemon.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    instance = dg.DagsterInstance.from_config(str(home))
    key = dg.AssetKey(["raw", "user_events"])
    try:
        event = wait_for(
            lambda: instance.get_latest_materialization_event(key),
            timeout=240,
            interval=1,
            what="the sensor-launched run to materialize raw/user_events",
        )
        assert materialization(event).metadata["rows_written"].value == 15
        runs = instance.get_runs(dg.RunsFilter(job_name="ingest_user_events"))
        assert runs and all(r.tags.get("dagster/sensor_name") == "user_events_lag" for r in runs)
        # the daemon may be running domain assets now: wait for the writer's lock like they do
        with Warehouse(env["OWNLENS_WAREHOUSE"]).connect(read_only=True) as connection:
            assert connection.execute("SELECT count(*) FROM raw.user_events").fetchone() == (15,)
    finally:
        family = [*psutil.Process(daemon.pid).children(recursive=True), psutil.Process(daemon.pid)]
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(60)
        _, alive = psutil.wait_procs(family, timeout=30)
        for process in alive:
            process.kill()
        assert not alive, f"processes left behind: {[p.pid for p in alive]}"
