"""`make run` / `ownlens dev`: broker, topics, demo traffic and Dagster (code server, webserver,
daemon), stopped in an order that leaves no failed run, traceback or process behind. A watchdog
process stops them too when `ownlens dev` dies without stopping them (SIGKILL, a crash)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import yaml

from ownlens_kafka.broker import HOST, EmbeddedBroker, free_port, port_in_use
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.errors import BrokerStartError
from ownlens_kafka.topics import create_topics

STATE_DIR = Path(".ownlens")
GENERATOR_RESTARTS = 5
# A process log past this size is rotated (copied to `<name>.log.1`, emptied): two parts at most.
LOG_LIMIT = 16 * 2**20
LOG_CHECK_S = 10.0
# The orderly stop gets this long in all; a process still running then is killed (and said so).
STOP_BUDGET_S = 8.0
WATCHDOG = "from ownlens_pipelines.dev import watch; watch()"
CODE_LOCATION = ("ownlens_pipelines.definitions", "ownlens")  # module, location name
# The Dagster instance of `make run`, in one place (`dagster_yaml` adds PostgreSQL storage).
DAGSTER_YAML = """\
# Written by `ownlens dev`. Local Dagster instance of the OwnLens demo.
telemetry:
  enabled: false
nux:
  enabled: false     # no community dialog over the asset graph
# A step's raw stdout/stderr is not kept (a file per step, never deleted with its run); the run's
# structured events, errors included, are, and a step's output still reaches dagster.log.
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
# Ticks every few seconds: kept a day (failures a week). ownlens_pipelines/retention.py prunes
# runs, ticks and automation evaluations older than OWNLENS_RUN_RETENTION hourly.
retention:
  schedule:
    purge_after_days: 7
  sensor:
    purge_after_days:
      skipped: 1
      success: 1
      failure: 7
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
# A run writing when the stack stops may end by itself within RUN_GRACE_S, then it is asked to
# stop (the follow run never ends by itself). Short, but past the burst of events a report
# yields: an interrupt that lands while Dagster stores them is raised outside the op, and the
# run, though it ends CANCELED and loses nothing, logs the interrupt's stack trace. Settling
# (see `_settle_runs`) takes SETTLE_S at most past the grace.
RUN_GRACE_S = 2.0
SETTLE_S = 3.0
ACTIVE_RUNS = """query { runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED,
  CANCELING]}) { ... on Runs { results { runId status stepStats { startTime } } } } }"""
TERMINATE = """mutation ($ids: [String!]!, $policy: TerminateRunPolicy) {
  terminateRuns(runIds: $ids, terminatePolicy: $policy) { __typename } }"""
# DAGSTER_PG_* as docker/dagster.yaml reads them; the defaults where one is not set.
PG_SETTINGS = {
    "hostname": ("DAGSTER_PG_HOST", None),
    "port": ("DAGSTER_PG_PORT", 5432),
    "username": ("DAGSTER_PG_USER", "postgres"),
    "password": ("DAGSTER_PG_PASSWORD", None),
    "db_name": ("DAGSTER_PG_DB", "postgres"),
}


class PortInUseError(BrokerStartError):
    """A port the stack listens on is taken (shown by the CLI as one line, as a broker's is)."""


def dagster_yaml(environ: Mapping[str, str]) -> str:
    """The instance of `make run`: SQLite in DAGSTER_HOME, or, with DAGSTER_PG_HOST set, runs,
    events and schedules in PostgreSQL. The variables are named, not copied: each process reads
    them at its start, and no password is written to disk."""
    if not environ.get("DAGSTER_PG_HOST"):
        return DAGSTER_YAML
    database: dict[str, Any] = {"scheme": "postgresql+psycopg2"}  # not psycopg 3: its NOTIFY fails
    for key, (variable, default) in PG_SETTINGS.items():
        if environ.get(variable):
            database[key] = {"env": variable}
        elif default is not None:
            database[key] = default
    storage = yaml.safe_dump({"storage": {"postgres": {"postgres_db": database}}}, sort_keys=False)
    return f"{DAGSTER_YAML}# Runs, events and schedules in PostgreSQL (DAGSTER_PG_*).\n{storage}"


def postgres_of(environ: Mapping[str, str]) -> str | None:
    """Where the PostgreSQL storage is, as `db on host:port`; None with SQLite."""
    if not environ.get("DAGSTER_PG_HOST"):
        return None

    def value(key: str) -> str:
        variable, default = PG_SETTINGS[key]
        return environ.get(variable) or str(default)

    return f"{value('db_name')} on {value('hostname')}:{value('port')}"


def set_aside_previous_session(state: Path, embedded: bool) -> list[str]:
    """Move an earlier session's logs to `<state>/previous/` (replacing what was there), and,
    with the embedded broker (which starts empty, its offsets from 0 again), its warehouse and
    Dagster history too, since they would mix two topics' offsets and repeat run keys. Returns
    the names moved."""
    kept = sorted([*state.glob("*.log"), *state.glob("*.log.1")])
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


def bound_logs(state: Path, limit: int = LOG_LIMIT) -> list[str]:
    """Rotate each log in `state` past `limit` bytes: copied to `<name>.log.1` (replacing the
    older part), then emptied in place. Its writers append (O_APPEND), so they go on at the start
    of the emptied file; a line written between the copy and the emptying is lost. Returns the
    names rotated."""
    rotated = []
    for path in sorted(state.glob("*.log")):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size > limit:
                shutil.copyfile(path, path.with_name(f"{path.name}.1"))
                os.truncate(path, 0)
                rotated.append(path.name)
    return rotated


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
    _watchdog: subprocess.Popen[bytes] | None = None
    _control: IO[bytes] | None = None
    _broker_pid: int | None = None

    def __post_init__(self) -> None:
        self.say = _robust(self.say, STATE_DIR / "dev.log")

    def run(self) -> int:
        """`ownlens dev`: start the stack and keep it up until SIGINT, SIGTERM or SIGHUP (0), or
        until a Dagster process exits (1); then stop it in order. A port already taken ends it
        before anything starts."""
        self.check_ports()
        self._take_signals()
        try:
            self.start()
            return self.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            self.say("stopping ...")
            self.stop()

    def check_ports(self) -> None:
        """Raise PortInUseError, naming what listens there, where a port of the stack is taken."""
        ports = {self.port: "another with --port"}
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            ports[self.broker_port] = "another with --broker-port, or KAFKA_BOOTSTRAP_SERVERS"
        for port, choose in ports.items():
            if port_in_use(port):
                holder = listener_of(port)
                by = f" by pid {holder[0]} ({holder[1]})" if holder else ""
                raise PortInUseError(
                    f"port {port} on {HOST} is in use{by}: stop it, or choose {choose}"
                )

    def kafka(self) -> tuple[KafkaConfig, dict[str, str]]:
        """The cluster in the environment, or the embedded one, and `KAFKA_*` for the children."""
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            return KafkaConfig(), {}
        self.broker = EmbeddedBroker(port=self.broker_port, log_path=STATE_DIR / "broker.log")
        # It shares this process's group, so the terminal's Ctrl-C or hangup would stop it before
        # the runs writing to it. Blocked in it (a signal mask is inherited), they leave it to be
        # stopped last, with SIGTERM.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGHUP})
        try:
            self.broker.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        holder = listener_of(self.broker_port)
        if holder is not None:
            self._broker_pid = holder[0]
            self._watch("broker", holder[0])
        config = self.broker.kafka_config()
        return config, {
            "KAFKA_BOOTSTRAP_SERVERS": config.bootstrap_servers,
            "KAFKA_SESSION_TIMEOUT_MS": str(config.session_timeout_ms),
            "KAFKA_HEARTBEAT_INTERVAL_MS": str(config.heartbeat_interval_ms),
        }

    def start(self) -> None:
        self._take_signals()
        self.check_ports()  # before the previous session moves: it may be the one running
        STATE_DIR.mkdir(exist_ok=True)
        embedded = not os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if set_aside_previous_session(STATE_DIR, embedded):
            what = "logs, warehouse, Dagster history" if embedded else "logs"
            self.say(f"Previous session ({what}) moved to {STATE_DIR / 'previous'}/")
        self._start_watchdog()
        self._watch("port", self.port)
        config, kafka_env = self.kafka()
        home = (STATE_DIR / "dagster_home").resolve()
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").write_text(dagster_yaml(os.environ))
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
        postgres = postgres_of(os.environ)
        if postgres:
            self.say(f"History:   PostgreSQL database {postgres} (DAGSTER_PG_*)")
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

    def _take_signals(self) -> None:
        """SIGINT, SIGTERM and SIGHUP (the terminal closed) all stop the stack in order. Set
        explicitly: a SIGINT ignored by a shell (`make run &`) would otherwise pass to every
        child. A SIGHUP ignored on purpose (`nohup make run`) stays ignored."""

        def interrupt(*_: Any) -> None:
            _divert_broken_output(STATE_DIR / "dev.log")  # a closed terminal, a reader gone
            raise KeyboardInterrupt

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            with contextlib.suppress(ValueError):  # not the main thread: the caller's to handle
                signal.signal(sig, interrupt)

    def _start_watchdog(self) -> None:
        """A process in a session of its own holding the read end of a pipe only this process
        writes: when this process ends without `stop()` (SIGKILL, a crash), the pipe closes and
        the watchdog stops every process registered with it (see `watch`)."""
        if self._watchdog is not None:
            return
        read, write = os.pipe()  # neither end is inherited by the children (close_fds)
        try:
            with open(STATE_DIR / "dev.log", "ab") as log:
                self._watchdog = subprocess.Popen(
                    [sys.executable, "-c", WATCHDOG],
                    stdin=read,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # no terminal: a hangup or Ctrl-C does not reach it
                )
        finally:
            os.close(read)
        self._control = os.fdopen(write, "wb", buffering=0)

    def _watch(self, *words: object) -> None:
        """Tell the watchdog a line of `watch`'s protocol."""
        if self._control is not None:
            with contextlib.suppress(OSError):  # a watchdog gone: the orderly stop still works
                self._control.write(" ".join(map(str, words)).encode() + b"\n")

    def _release_watchdog(self) -> None:
        """Everything stopped in order: the watchdog ends without signalling anything."""
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(OSError):
                control.write(b"stopped\n")
            with contextlib.suppress(OSError):
                control.close()
        if self._watchdog is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watchdog.wait(5)
            self._watchdog = None

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], log: str | None = None
    ) -> None:
        self._commands[name] = (command, env)
        self.children[name] = self._launch(log or name, command, env)
        self._watch("child", name, self.children[name].pid)

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
                start_new_session=True,  # signalled as a group, by us (or the watchdog) only
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
        traffic is restarted when it fails (say, a delivery timeout), a few times at most. The
        logs are kept bounded meanwhile (`bound_logs`)."""
        restarts = 0
        checked = time.monotonic()
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
                self._watch("child", name, self.children[name].pid)
            if time.monotonic() - checked > LOG_CHECK_S:
                bound_logs(STATE_DIR)
                checked = time.monotonic()
            time.sleep(0.5)

    def stop(self, budget: float = STOP_BUDGET_S) -> None:
        """Stop everything in order (see `stop_in_order`), the broker last."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # no second signal cuts it
            with contextlib.suppress(ValueError):  # not the main thread: nothing to protect
                signal.signal(sig, signal.SIG_IGN)
        stop_in_order(self.children, self.port, self.say, budget)
        self.children.clear()
        if self.broker is not None:
            stop_broker(self._broker_pid, self.say)
            self.broker.stop(timeout=1.0)  # reaps it, closes its log
        self._release_watchdog()


class Child(Protocol):
    """A process of the stack as `stop_in_order` sees it: a Popen, or an `Orphan`."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Orphan:
    """A process of a stack whose `ownlens dev` died, known by its pid (the watchdog's view)."""

    pid: int

    def poll(self) -> int | None:
        return None if process_alive(self.pid) else 0


def stop_in_order(
    children: Mapping[str, Child],
    port: int,
    say: Callable[[str], None],
    budget: float = STOP_BUDGET_S,
) -> None:
    """The generator (it flushes while the broker is up) and the daemon (no new runs) first,
    runs settled meanwhile (see `_settle_runs`); then the webserver and the code server (the
    runs it started end before it). A process still running once the stop has taken `budget`
    seconds is killed, with its group (and says so)."""
    deadline = time.monotonic() + budget
    _interrupt(children, "generator", "daemon")
    if _running(children, "webserver"):
        _settle_runs(port, lambda: _running(children, "daemon"))
    _wait(children, "daemon", say=say, budget=budget, deadline=deadline)
    _interrupt(children, "webserver", "code_server")
    names = ("generator", "webserver", "code_server")
    _wait(children, *names, say=say, budget=budget, deadline=deadline)


def _running(children: Mapping[str, Child], name: str) -> bool:
    child = children.get(name)
    return child is not None and child.poll() is None


def _interrupt(children: Mapping[str, Child], *names: str) -> None:
    """SIGINT to each child itself: what it started (a code server's runs) it stops in its
    own order."""
    for name in names:
        if _running(children, name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(children[name].pid, signal.SIGINT)


def _wait(
    children: Mapping[str, Child],
    *names: str,
    say: Callable[[str], None],
    budget: float,
    deadline: float,
) -> None:
    for name in names:
        child = children.get(name)
        if child is None:
            continue
        while _group_alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)  # its children (a code server's runs) end after it
        if _group_alive(child):
            say(f"{name} did not stop within {budget:.1f} s; killing it")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            reaped = time.monotonic() + 2.0
            while child.poll() is None and time.monotonic() < reaped:
                time.sleep(0.05)


def _settle_runs(port: int, daemon_running: Callable[[], bool]) -> None:
    """While the daemon stops: runs not yet writing are marked cancelled (queued ones never
    start); a run writing is asked to stop after RUN_GRACE_S and ends after the batch it
    writes. Done once the daemon is gone and every run was asked: the code server then waits
    for them. None ends as a FAILURE."""
    started = time.monotonic()
    asked: set[str] = set()
    while time.monotonic() - started < RUN_GRACE_S + SETTLE_S:
        runs = _active_runs(port)
        if asked.issuperset(runs) and not daemon_running():
            return  # no run can start any more, every one is ending
        waiting = [run for run, writing in runs.items() if not writing and run not in asked]
        _terminate(port, waiting, "MARK_AS_CANCELED_IMMEDIATELY")
        asked.update(waiting)
        if time.monotonic() - started >= RUN_GRACE_S:
            writing = [run for run in runs if run not in asked]
            _terminate(port, writing, "SAFE_TERMINATE")
            asked.update(writing)
        time.sleep(0.1)


def watch(control: IO[bytes] | None = None) -> None:
    """The watchdog of a stack (`python -c WATCHDOG`). Reads what `ownlens dev` tells it on
    `control` (stdin: a pipe only `ownlens dev` writes), one line each: `port <webserver port>`,
    `child <name> <pid>`, `broker <pid>`, and `stopped` once it stopped them all. An end without
    `stopped` means `ownlens dev` died first: the watchdog stops the stack itself, in the same
    order (`stop_in_order`), the broker last."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    port, children, brokers = 0, dict[str, Child](), list[int]()
    for line in control or sys.stdin.buffer:
        match line.decode().split():
            case ["stopped"]:
                return
            case ["port", number]:
                port = int(number)
            case ["child", name, pid]:
                children[name] = Orphan(int(pid))  # a restarted generator replaces the first
            case ["broker", pid]:
                brokers.append(int(pid))
    children = {name: child for name, child in children.items() if _group_alive(child)}
    brokers = [pid for pid in brokers if process_alive(pid)]
    if not children and not brokers:
        return
    say = functools.partial(print, flush=True)
    say(f"ownlens dev ended first; stopping {', '.join([*children, *map(str, brokers)])}")
    stop_in_order(children, port, say)
    for pid in brokers:
        stop_broker(pid, say)


def stop_broker(pid: int | None, say: Callable[[str], None], timeout: float = 1.0) -> None:
    """SIGTERM to the embedded broker (it stops at once; SIGINT is blocked in it), SIGKILL
    after `timeout` seconds."""
    if pid is None or not process_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if process_alive(pid):
        say(f"the broker did not stop within {timeout:.0f} s; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of `pid` as /proc tells; None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return fields[0], int(fields[2])


def _has_proc() -> bool:
    return Path("/proc/self/stat").exists()


def process_alive(pid: int) -> bool:
    """`pid` runs (a zombie does not: where init does not reap orphans, zombies stay)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not _has_proc():
        return True
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in "ZX"


def group_alive(pgid: int) -> bool:
    """Some process of group `pgid` runs (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not _has_proc():
        return True
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == pgid and stat[0] not in "ZX":
                return True
    return False


def listener_of(port: int) -> tuple[int, str] | None:
    """(pid, command line) of the process listening on TCP `port`, where /proc tells (Linux,
    a process of this user)."""
    sockets: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                listening = fields[3] == "0A"
                if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets.add(f"socket:[{fields[9]}]")
    if not sockets:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in sockets:
                        words = (entry / "cmdline").read_bytes().split(b"\0")
                        command = " ".join(w.decode(errors="replace") for w in words if w)
                        return int(entry.name), command[:100]
    return None


def _robust(say: Callable[[str], None], log: Path) -> Callable[[str], None]:
    """`say`, each line also appended to `log`. A terminal closed or a pipe whose reader is gone
    no longer fails it (EPIPE, EIO): stdout and stderr are pointed at `log` from then on."""

    def robust(message: str) -> None:
        with contextlib.suppress(OSError), open(log, "a") as file:
            file.write(message + "\n")
        if _writes_to(1, log):
            return  # stdout diverted there already
        try:
            say(message)
        except OSError:
            _divert_broken_output(log, always=(1,))

    return robust


def _divert_broken_output(log: Path, always: tuple[int, ...] = ()) -> None:
    """Point stdout and stderr at `log` where their reader is gone (and `always` those), so a
    write after it, a traceback's included, does not fail."""
    for fd in (1, 2):
        if fd in always or _broken(fd):
            with contextlib.suppress(OSError):
                target = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                os.dup2(target, fd)
                os.close(target)


def _writes_to(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), path.stat()
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _broken(fd: int) -> bool:
    """Writing to `fd` fails: a pipe without reader (POLLERR), a terminal hung up (POLLHUP)."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    try:
        events = poller.poll(0)
    except OSError:
        return False
    return any(mask & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, mask in events)


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


def _group_alive(child: Child) -> bool:
    """Some process of the child's group still runs (the child itself not yet reaped counts)."""
    return child.poll() is None or group_alive(child.pid)


def _executable(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)
