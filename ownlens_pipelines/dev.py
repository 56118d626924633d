"""`make run` / `ownlens dev`: broker, topics, demo traffic and Dagster (code server, webserver,
daemon), stopped in an order that leaves no failed run, traceback or process behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ownlens_kafka.broker import EmbeddedBroker, free_port, port_in_use
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.topics import create_topics

STATE_DIR = Path(".ownlens")
GENERATOR_RESTARTS = 5
CODE_LOCATION = ("ownlens_pipelines.definitions", "ownlens")  # module, location name
# The Dagster instance of `make run`, in one place.
DAGSTER_YAML = """\
# Written by `ownlens dev`. Local Dagster instance of the OwnLens demo.
telemetry:
  enabled: false
nux:
  enabled: false     # no community dialog over the asset graph
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1   # a queued run starts within a second of its turn
concurrency:
  pools:
    default_limit: 1   # DuckDB: one writer process at a time
    granularity: run
  runs:
    max_concurrent_runs: 4
"""
# A run writing when the stack stops gets this long to end by itself (a demo-rate run takes
# 2-4 s); past it, it is asked to stop and ends after its current batch.
RUN_GRACE_S = 3.0
ACTIVE_RUNS = """query { runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED,
  CANCELING]}) { ... on Runs { results { runId status stepStats { startTime } } } } }"""
TERMINATE = """mutation ($ids: [String!]!, $policy: TerminateRunPolicy) {
  terminateRuns(runIds: $ids, terminatePolicy: $policy) { __typename } }"""


def set_aside_previous_session(state: Path, embedded: bool) -> list[str]:
    """Move an earlier session's logs to `<state>/previous/` (replacing what was there), and,
    with the embedded broker (which starts empty, its offsets from 0 again), its warehouse and
    Dagster history too, since they would mix two topics' offsets and repeat run keys. Returns
    the names moved."""
    kept = sorted(state.glob("*.log"))
    if embedded:
        kept.append(state / "lake")
        kept.append(state / "dagster_home")
    kept = [path for path in kept if path.exists()]
    if kept:
        previous = state / "previous"
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir()
        for path in kept:
            path.rename(previous / path.name)
    return [path.name for path in kept]


def workspace_yaml(port: int) -> str:
    """The workspace of the webserver and the daemon: the one code server, shared, so runs
    outlive neither and either can stop them."""
    module, location = CODE_LOCATION
    return (
        f"# Written by `ownlens dev`: the code server running {module}.\n"
        f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {port}\n"
        f"      location_name: {location}\n"
    )


@dataclass
class DevStack:
    """The processes `make run` starts, stopped in order with no child left behind."""

    port: int = 3000
    broker_port: int = 9092
    rate: float = 20.0
    invalid_ratio: float = 0.01
    say: Callable[[str], None] = print
    startup_timeout: float = 180.0
    broker: EmbeddedBroker | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    def kafka(self) -> tuple[KafkaConfig, dict[str, str]]:
        """The cluster in the environment, or the embedded one, and `KAFKA_*` for the children."""
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            return KafkaConfig(), {}
        self.broker = EmbeddedBroker(port=self.broker_port, log_path=STATE_DIR / "broker.log")
        self.broker.start()
        config = self.broker.kafka_config()
        return config, {
            "KAFKA_BOOTSTRAP_SERVERS": config.bootstrap_servers,
            "KAFKA_SESSION_TIMEOUT_MS": str(config.session_timeout_ms),
            "KAFKA_HEARTBEAT_INTERVAL_MS": str(config.heartbeat_interval_ms),
        }

    def start(self) -> None:
        STATE_DIR.mkdir(exist_ok=True)
        embedded = not os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if set_aside_previous_session(STATE_DIR, embedded):
            what = "logs, warehouse, Dagster history" if embedded else "logs"
            self.say(f"Previous session ({what}) moved to {STATE_DIR / 'previous'}/")
        config, kafka_env = self.kafka()
        home = (STATE_DIR / "dagster_home").resolve()
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
        code_port = free_port()
        workspace = home / "workspace.yaml"
        workspace.write_text(workspace_yaml(code_port))
        warehouse = os.environ.get("OWNLENS_WAREHOUSE", str((STATE_DIR / "lake").resolve()))
        env = {
            **os.environ,
            **kafka_env,
            "DAGSTER_HOME": str(home),
            "OWNLENS_WAREHOUSE": warehouse,
            "OWNLENS_SENSOR_INTERVAL": os.environ.get("OWNLENS_SENSOR_INTERVAL", "4"),
        }
        created = create_topics(config)
        where = "embedded broker" if self.broker else "cluster from KAFKA_BOOTSTRAP_SERVERS"
        self.say(f"Kafka:     {config.bootstrap_servers} ({where}); {len(created)} topics created")
        self.say(f"Warehouse: {warehouse}")
        traffic = ["generate", "--rate", str(self.rate), "--invalid-ratio", str(self.invalid_ratio)]
        self._spawn("generator", [_executable("ownlens"), *traffic], env)
        module, location = CODE_LOCATION
        listen = ["-h", "127.0.0.1", "-p"]
        server = ["api", "grpc", "-m", module, "--location-name", location, *listen, str(code_port)]
        # as the docker deployment's code location runs it; its logs go with the webserver's
        self._spawn("code_server", [_executable("dagster"), *server], env, log="dagster")
        self._wait_for_port("code_server", code_port)  # it listens once the code is loaded
        self._spawn("daemon", [_executable("dagster-daemon"), "run", "-w", str(workspace)], env)
        web = ["-w", str(workspace), *listen, str(self.port)]
        self._spawn("webserver", [_executable("dagster-webserver"), *web], env, log="dagster")
        self.say(f"Dagster:   http://127.0.0.1:{self.port}  (sensors on; Ctrl-C stops everything)")

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], log: str | None = None
    ) -> None:
        self._commands[name] = (command, env)
        self.children[name] = self._launch(log or name, command, env)

    def _launch(
        self, log_name: str, command: list[str], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        with open(STATE_DIR / f"{log_name}.log", "ab") as log:  # the child keeps its own copy
            return subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signalled as a group, by us only
            )

    def _wait_for_port(self, name: str, port: int) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while not port_in_use(port):
            if self.children[name].poll() is not None:
                raise RuntimeError(f"{name} exited with code {self.children[name].returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not listening after {self.startup_timeout:.0f} s")
            time.sleep(0.2)

    def wait(self) -> int:
        """Block until a signal stops the stack, or a Dagster process exits (an error). The demo
        traffic is restarted when it fails (say, a delivery timeout), a few times at most."""
        restarts = 0
        while True:
            for name, process in list(self.children.items()):
                if process.poll() is None:
                    continue
                log = "generator" if name == "generator" else "dagster"
                self.say(f"{name} exited with code {process.returncode}; see {STATE_DIR / log}.log")
                if name != "generator" or restarts >= GENERATOR_RESTARTS:
                    return 1
                restarts += 1
                self.say(f"restarting the demo traffic ({restarts}/{GENERATOR_RESTARTS})")
                self.children[name] = self._launch(name, *self._commands[name])
            time.sleep(0.5)

    def stop(self, timeout: float = 5.0) -> None:
        """The generator (it flushes while the broker is up) and the daemon (no new runs)
        first, runs settled meanwhile (see `_settle_runs`); then the webserver and the code
        server; the broker last. A process that ignores its signal is killed after `timeout`
        seconds (and says so)."""
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut this short
            with contextlib.suppress(ValueError):  # not the main thread: nothing to protect
                signal.signal(sig, signal.SIG_IGN)
        self._signal("generator", "daemon")
        if self._running("webserver"):
            self._settle_runs()
        self._wait("daemon", timeout=timeout)
        self._signal("webserver", "code_server")
        self._wait("generator", "webserver", "code_server", timeout=timeout)
        self.children.clear()
        if self.broker is not None:
            self.broker.stop()

    def _running(self, name: str) -> bool:
        process = self.children.get(name)
        return process is not None and process.poll() is None

    def _signal(self, *names: str) -> None:
        """SIGINT to each child itself: what it started (a code server's server process and
        runs) it stops in its own order."""
        for name in names:
            process = self.children.get(name)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)

    def _wait(self, *names: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            process = self.children.get(name)
            if process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(deadline - time.monotonic(), 0.1))
            while _group_alive(process) and time.monotonic() < deadline:
                time.sleep(0.05)  # its children (a code server's workers) end after it
            if _group_alive(process):
                self.say(f"{name} did not stop within {timeout:.0f} s; killing it")
                _signal_group(process, signal.SIGKILL)
                process.wait()

    def _settle_runs(self) -> None:
        """While the daemon stops: runs not yet writing are marked cancelled at once (queued ones
        never start); a run writing may end within RUN_GRACE_S, else it is asked to stop and
        ends after the batch it writes. None ends as a FAILURE."""
        started = time.monotonic()
        asked: set[str] = set()
        while time.monotonic() - started < RUN_GRACE_S + 2.0:
            runs = _active_runs(self.port)
            if not runs and not self._running("daemon"):
                return
            waiting = [run for run, writing in runs.items() if not writing and run not in asked]
            _terminate(self.port, waiting, "MARK_AS_CANCELED_IMMEDIATELY")
            asked.update(waiting)
            if time.monotonic() - started > RUN_GRACE_S:
                writing = [run for run in runs if run not in asked]
                _terminate(self.port, writing, "SAFE_TERMINATE")
                asked.update(writing)
            time.sleep(0.1)


def _graphql(port: int, query: str, variables: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)["data"]


def _active_runs(port: int) -> dict[str, bool]:
    """The runs not yet finished, and whether each has started writing (a step started);
    none when the webserver cannot say."""
    try:
        data = _graphql(port, ACTIVE_RUNS)
        runs = data["runsOrError"]["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {
        run["runId"]: any(step["startTime"] for step in run["stepStats"])
        and run["status"] == "STARTED"
        for run in runs
    }


def _terminate(port: int, runs: list[str], policy: str) -> None:
    if runs:
        with contextlib.suppress(OSError, ValueError):
            _graphql(port, TERMINATE, {"ids": runs, "policy": policy})


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    """Some process of the child's group still runs (the child itself not yet reaped counts)."""
    if process.poll() is None:
        return True
    try:
        os.killpg(process.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _executable(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)
