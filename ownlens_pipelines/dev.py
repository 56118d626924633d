"""`make run` / `ownlens dev`: broker, topics, demo traffic and `dagster dev`, stopped together."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ownlens_kafka.broker import EmbeddedBroker
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.topics import create_topics

STATE_DIR = Path(".ownlens")
GENERATOR_RESTARTS = 5
DAGSTER_YAML = """\
# Written by `ownlens dev`. Local Dagster instance of the OwnLens demo.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1   # DuckDB: one writer at a time
    granularity: run
  runs:
    max_concurrent_runs: 4
"""


@dataclass
class DevStack:
    """The processes `make run` starts, stopped in reverse order with no child left behind."""

    port: int = 3000
    broker_port: int = 9092
    rate: float = 20.0
    say: Callable[[str], None] = print
    broker: EmbeddedBroker | None = None
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
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
        config, kafka_env = self.kafka()
        if self.broker is not None:
            self._set_aside_previous_session()
        home = (STATE_DIR / "dagster_home").resolve()
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
        warehouse = os.environ.get(
            "OWNLENS_WAREHOUSE", str((STATE_DIR / "warehouse.duckdb").resolve())
        )
        env = {
            **os.environ,
            **kafka_env,
            "DAGSTER_HOME": str(home),
            "OWNLENS_WAREHOUSE": warehouse,
            "OWNLENS_SENSOR_INTERVAL": os.environ.get("OWNLENS_SENSOR_INTERVAL", "5"),
        }
        created = create_topics(config)
        where = "embedded broker" if self.broker else "cluster from KAFKA_BOOTSTRAP_SERVERS"
        self.say(f"Kafka:     {config.bootstrap_servers} ({where}); {len(created)} topics created")
        self.say(f"Warehouse: {warehouse}")
        self._spawn("generator", [_ownlens(), "generate", "--rate", str(self.rate)], env)
        self._spawn(
            "dagster",
            [_dagster(), "dev", *_code_location(), "-h", "127.0.0.1", "-p", str(self.port)],
            env,
        )
        self.say(f"Dagster:   http://127.0.0.1:{self.port}  (sensors on; Ctrl-C stops everything)")

    def _set_aside_previous_session(self) -> None:
        """The embedded broker starts empty, its offsets from 0 again: a warehouse and Dagster
        history of an earlier session would mix two topics' offsets (and repeat run keys), so
        they move to `.ownlens/previous/`."""
        kept = [
            STATE_DIR / "warehouse.duckdb",
            STATE_DIR / "warehouse.duckdb.wal",
            STATE_DIR / "dagster_home",
        ]
        if not any(path.exists() for path in kept):
            return
        previous = STATE_DIR / "previous"
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir()
        for path in kept:
            if path.exists():
                path.rename(previous / path.name)
        self.say(f"Previous session (warehouse, Dagster history) moved to {previous}/")

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self._commands[name] = (command, env)
        self.children.append((name, self._launch(name, command, env)))

    def _launch(
        self, name: str, command: list[str], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        with open(STATE_DIR / f"{name}.log", "ab") as log:  # the child keeps its own copy
            return subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self) -> int:
        """Block until a signal stops the stack, or Dagster exits (an error). The demo traffic
        is restarted when it fails (say, a delivery timeout), a few times at most."""
        restarts = 0
        while True:
            for index, (name, process) in enumerate(self.children):
                if process.poll() is None:
                    continue
                self.say(
                    f"{name} exited with code {process.returncode}; see "
                    f"{STATE_DIR / (name + '.log')}"
                )
                if name != "generator" or restarts >= GENERATOR_RESTARTS:
                    return 1
                restarts += 1
                self.say(f"restarting the demo traffic ({restarts}/{GENERATOR_RESTARTS})")
                self.children[index] = (name, self._launch(name, *self._commands[name]))
            time.sleep(0.5)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT to every child's process group, then SIGKILL to what remains."""
        for _, process in reversed(self.children):
            _signal_group(process, signal.SIGINT)
        deadline = time.monotonic() + timeout
        for _, process in reversed(self.children):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(deadline - time.monotonic(), 0.1))
            _signal_group(process, signal.SIGKILL)
            process.wait()
        self.children.clear()
        if self.broker is not None:
            self.broker.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _executable(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def _ownlens() -> str:
    return _executable("ownlens")


def _dagster() -> str:
    return _executable("dagster")


def _code_location() -> list[str]:
    workspace = Path("workspace.yaml")
    return ["-w", str(workspace)] if workspace.exists() else ["-m", "ownlens_pipelines.definitions"]
