"""The Docker deployment (docker/) read as Docker, Compose and Dagster would read it.

Nothing is built or run: these checks catch the names and paths that only break at `up` time
(a missing file, a module that moved, a variable nobody reads, a service that does not exist).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from ownlens_kafka.config import KafkaConfig

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yml"
DOCKERFILE = DOCKER / "Dockerfile"
DAGSTER_YAML = DOCKER / "dagster.yaml"
WORKSPACE_YAML = DOCKER / "workspace.yaml"

KAFKA_BROKER_IMAGE = "apache/kafka"
BROKER_SETTINGS = {
    "KAFKA_DEFAULT_REPLICATION_FACTOR": "3",
    "KAFKA_MIN_INSYNC_REPLICAS": "2",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "2",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
}
WAREHOUSE_VARIABLE = "OWNLENS_WAREHOUSE"
DAGSTER_GRPC = ["dagster", "api", "grpc"]
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


# --- Compose ---------------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\$|\$\{\w+(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$\w+")


def interpolate(value: str) -> str:
    """Compose interpolation with no variable set: what a fresh checkout without .env gets."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        op = match.group("op") or ""
        if op.endswith("-"):
            return match.group("arg")
        if op.endswith("?"):
            raise AssertionError(f"{match.group(0)}: compose refuses to start without it")
        return ""

    return _INTERPOLATION.sub(replace, value)


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return interpolate(str(value))


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), COMPOSE_FILE
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]  # type: ignore[no-any-return]


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    """Variables a service sets; None for `- NAME` (passed through from the host, if set)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {name: None if value is None else scalar(value) for name, value in env.items()}


def argv(command: str | list[Any]) -> list[str]:
    if isinstance(command, str):
        return shlex.split(interpolate(command))
    return [scalar(part) for part in command]


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency name -> condition."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def named_volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Mount target -> named volume (bind mounts left out)."""
    mounts = {}
    for mount in service.get("volumes") or []:
        if isinstance(mount, str):
            source, _, rest = mount.partition(":")
            target = rest.split(":")[0]
        else:
            if mount.get("type", "volume") != "volume":
                continue
            source, target = mount.get("source", ""), mount["target"]
        if source and not source.startswith(("/", ".", "~", "$")):
            mounts[target] = source
    return mounts


def build_paths(service: dict[str, Any]) -> tuple[Path, Path] | None:
    """(context, Dockerfile) of a service that is built here."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    return context, (context / build.get("dockerfile", "Dockerfile")).resolve()


def project_services() -> dict[str, dict[str, Any]]:
    """Services running the ownlens image: built from docker/Dockerfile, or that image by name."""
    built = {n: s for n, s in services().items() if (b := build_paths(s)) and b[1] == DOCKERFILE}
    tags = {s["image"] for s in built.values() if "image" in s}
    named = {n: s for n, s in services().items() if "build" not in s and s.get("image") in tags}
    return built | named


def brokers() -> dict[str, dict[str, str | None]]:
    """Kafka broker services and their environment (Apache Kafka's own settings)."""
    return {
        name: environment(service)
        for name, service in services().items()
        if service.get("image", "").startswith(KAFKA_BROKER_IMAGE)
    }


def command_of(name: str) -> list[str]:
    """What the container runs: the service's command, or the image's default."""
    service = services()[name]
    image = dockerfile() if name in project_services() else None
    entrypoint = service.get("entrypoint")
    if entrypoint is not None:
        return argv(entrypoint) + argv(service.get("command") or [])
    if "command" in service:
        return (image.entrypoint if image else []) + argv(service["command"])
    return image.entrypoint + image.cmd if image else []


def dagster_services() -> dict[str, list[str]]:
    """Project services that run a Dagster process, with their command."""
    found = {name: command_of(name) for name in project_services()}
    return {name: cmd for name, cmd in found.items() if cmd and cmd[0].startswith("dagster")}


def service_running(program: str) -> tuple[str, list[str]]:
    matches = [(name, cmd) for name, cmd in dagster_services().items() if cmd[0] == program]
    assert len(matches) == 1, f"expected one service running {program}, found {matches}"
    return matches[0]


def option_values(command: list[str], *names: str) -> list[str]:
    """Every value of the given options (`-m X`, `--module-name X`, `--module-name=X`)."""
    values = []
    for i, arg in enumerate(command):
        for name in names:
            if arg == name and i + 1 < len(command):
                values.append(command[i + 1])
            elif name.startswith("--") and arg.startswith(f"{name}="):
                values.append(arg.split("=", 1)[1])
    return values


# --- Dockerfile ------------------------------------------------------------------------------


@dataclass
class Copy:
    sources: list[str]  # relative to the build context
    dest: PurePosixPath  # absolute path in the image
    into_dir: bool  # dest is a directory (trailing slash or several sources)
    from_stage: str | None


@dataclass
class Image:
    """What the final stage of a Dockerfile leaves in the image, as far as these checks care."""

    context: Path
    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    copies: list[Copy] = field(default_factory=list)
    all_copies: list[Copy] = field(default_factory=list)  # every stage
    runs: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    user: str = "root"

    def source_of(self, path: PurePosixPath) -> Path | None:
        """The build-context file a COPY puts at `path`, the last one winning."""
        for copy in reversed(self.copies):
            if copy.from_stage is not None:
                continue
            for source in copy.sources:
                local = self.context / source
                if local.is_dir() and (path == copy.dest or copy.dest in path.parents):
                    candidate = local / path.relative_to(copy.dest)
                    if candidate.is_file():
                        return candidate
                elif local.is_file():
                    target = copy.dest / local.name if copy.into_dir else copy.dest
                    if target == path:
                        return local
        return None


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), with line continuations joined and comments dropped."""
    result, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        keyword, _, args = (current + stripped).partition(" ")
        result.append((keyword.upper(), args.strip()))
        current = ""
    return result


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def words(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else shlex.split(args)


@cache
def dockerfile() -> Image:
    context = build_paths(services()[next(iter(project_services()))])
    image = Image(context=context[0] if context else REPO)
    workdir = PurePosixPath("/")
    for keyword, args in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            all_copies = image.all_copies
            image = Image(context=image.context, base=args.split()[0], all_copies=all_copies)
            workdir = PurePosixPath("/")
        elif keyword == "ENV":
            tokens = shlex.split(args)
            pairs = (t.split("=", 1) for t in tokens) if "=" in tokens[0] else [tokens]
            for name, *value in pairs:
                image.env[name] = expand(" ".join(value), image.env)
        elif keyword == "WORKDIR":
            workdir = workdir / expand(args, image.env)
        elif keyword in ("COPY", "ADD"):
            tokens = words(args)
            flags = [t for t in tokens if t.startswith("--")]
            paths = [t for t in tokens if not t.startswith("--")]
            *sources, raw_dest = paths
            stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            dest = expand(raw_dest, image.env)
            copy = Copy(
                sources=sources,
                dest=workdir / dest,
                into_dir=dest.endswith("/") or len(sources) > 1,
                from_stage=stage,
            )
            image.copies.append(copy)
            image.all_copies.append(copy)
        elif keyword == "RUN":
            image.runs.append(args)
        elif keyword == "ENTRYPOINT":
            image.entrypoint = words(args)
        elif keyword == "CMD":
            image.cmd = words(args)
        elif keyword == "USER":
            image.user = args.split(":")[0]
    return image


# --- The project -----------------------------------------------------------------------------


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def kafka_config_variables() -> set[str]:
    """The environment variables KafkaConfig reads: its prefix + each field (or the alias)."""
    prefix = KafkaConfig.model_config.get("env_prefix", "")
    names = set()
    for name, info in KafkaConfig.model_fields.items():
        alias = info.validation_alias or info.alias
        names.add((alias if isinstance(alias, str) else f"{prefix}{name}").upper())
    return names


def kafka_variables(env: Mapping[str, str | None]) -> dict[str, str | None]:
    prefix = KafkaConfig.model_config.get("env_prefix", "").upper()
    return {name: value for name, value in env.items() if name.upper().startswith(prefix)}


def module_problem(module: str) -> str | None:
    """Why `module` cannot be imported from the installed project, or None."""
    base = REPO / module.replace(".", "/")
    if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
        return f"{module}: neither {base.relative_to(REPO)}.py nor a package in the repo"
    packages = pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    if module.split(".")[0] not in packages:
        return f"{module}: {module.split('.')[0]} is not in the wheel ({packages})"
    return None


def env_references(node: Any) -> set[str]:
    """Names in Dagster's `{env: NAME}` config values."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(env_references(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(env_references(v) for v in node))
    return set()


# --- Tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DOCKER.glob("*.y*ml")), ids=lambda path: path.name)
def test_yaml_file_parses_to_a_mapping(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text()), dict), path


def test_the_deployment_files_exist() -> None:
    for path in (COMPOSE_FILE, DOCKERFILE, DAGSTER_YAML, WORKSPACE_YAML):
        assert path.is_file(), path


def test_every_depends_on_names_a_service_with_a_usable_condition() -> None:
    problems = []
    for name, service in services().items():
        for dep, condition in depends_on(service).items():
            target = services().get(dep)
            if target is None:
                problems.append(f"{name} depends on unknown service {dep}")
            elif condition not in DEPENDS_ON_CONDITIONS:
                problems.append(f"{name} -> {dep}: unknown condition {condition}")
            elif condition == "service_healthy" and "healthcheck" not in target:
                problems.append(f"{name} waits for {dep} to be healthy; it has no healthcheck")
            elif condition == "service_completed_successfully" and target.get(
                "restart", "no"
            ) not in ("no", "on-failure"):
                problems.append(f"{name} waits for {dep} to exit; it is restarted forever")
    assert not problems, problems


def test_every_build_has_its_context_and_dockerfile() -> None:
    builds = {name: build_paths(s) for name, s in services().items() if "build" in s}
    assert builds, "no service is built from this repository"
    for name, paths in builds.items():
        assert paths is not None
        context, dockerfile_path = paths
        assert context.is_dir(), f"{name}: build context {context} missing"
        assert dockerfile_path.is_file(), f"{name}: {dockerfile_path} missing"
    assert project_services(), "no service builds docker/Dockerfile"
    assert dockerfile().context == REPO, "docker/Dockerfile expects the repository root as context"


def test_dockerfile_copy_sources_exist_in_the_build_context() -> None:
    image = dockerfile()
    assert image.all_copies, "the Dockerfile copies nothing"
    for copy in image.all_copies:
        if copy.from_stage is not None:
            continue
        for source in copy.sources:
            assert list(image.context.glob(source)), f"COPY source {source} is not in the repo"


def test_image_is_python_311_slim_and_runs_as_a_non_root_user() -> None:
    image = dockerfile()
    assert image.base.startswith("python:3.11-slim"), image.base
    assert image.user not in ("root", "0"), f"final USER is {image.user}"
    assert any(re.search(r"pip install\b.*\s\.(\s|$)", run) for run in image.runs), (
        "the project is never installed with `pip install .`"
    )


def test_every_module_started_is_a_module_of_the_project() -> None:
    """`-m X` in the image's command, the compose commands and the workspace files."""
    commands = {"Dockerfile CMD": dockerfile().entrypoint + dockerfile().cmd}
    commands |= {
        f"service {n}": argv(s["command"]) for n, s in services().items() if "command" in s
    }
    modules = {
        f"{where}: -m {m}": m
        for where, cmd in commands.items()
        for m in option_values(cmd, "-m", "--module-name")
    }
    for path in DOCKER.glob("*workspace*.y*ml"):
        for entry in yaml.safe_load(path.read_text()).get("load_from", []):
            for kind, key in (("python_module", "module_name"), ("python_package", "package_name")):
                target = entry.get(kind)
                if target is not None:
                    name = target if isinstance(target, str) else target[key]
                    modules[f"{path.name}: {kind} {name}"] = name

    default = option_values(dockerfile().cmd, "-m", "--module-name")
    assert default == [pyproject()["tool"]["dagster"]["module_name"]], (
        f"the image's code server loads {default}, [tool.dagster] names the composition root"
    )
    problems = [
        f"{where} ({problem})" for where, m in modules.items() if (problem := module_problem(m))
    ]
    assert not problems, problems


def test_ownlens_commands_in_compose_exist() -> None:
    """`ownlens ...` commands (topics, generator) are real subcommands taking those options."""
    script = pyproject()["project"]["scripts"]["ownlens"]
    module, function = script.split(":")
    checked = 0
    for name in project_services():
        command = command_of(name)
        if not command or command[0] != "ownlens":
            continue
        options_at = [i for i, arg in enumerate(command) if arg.startswith("-")]
        path = command[1 : options_at[0] if options_at else len(command)]
        code = f"import sys; from {module} import {function}; sys.argv[0] = 'ownlens'; {function}()"
        result = subprocess.run(
            [sys.executable, "-c", code, *path, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{name}: `ownlens {' '.join(path)}`: {result.stderr}"
        for option in (arg.split("=")[0] for arg in command if arg.startswith("--")):
            assert option in result.stdout, f"{name}: `ownlens {' '.join(path)}` has no {option}"
        checked += 1
    assert checked, "no service runs an ownlens command (topics create is expected)"


def test_project_services_set_only_variables_kafka_config_reads() -> None:
    allowed = kafka_config_variables()
    assert "KAFKA_BOOTSTRAP_SERVERS" in allowed  # the derivation itself works
    problems = [
        f"{where} sets {var}, which KafkaConfig does not read"
        for where, env in [("Dockerfile ENV", dict(dockerfile().env))]
        + [(f"service {n}", environment(s)) for n, s in project_services().items()]
        for var in kafka_variables(env)
        if var not in allowed
    ]
    assert not problems, problems


def test_kafka_values_on_project_services_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = KafkaConfig.model_config.get("env_prefix", "")
    for name, service in project_services().items():
        with monkeypatch.context() as patch:
            for var in [v for v in os.environ if v.upper().startswith(prefix.upper())]:
                patch.delenv(var)
            for var, value in kafka_variables(environment(service)).items():
                if value is not None:
                    patch.setenv(var, value)
            try:
                KafkaConfig()
            except ValueError as exc:
                pytest.fail(f"service {name}: {exc}")


def test_kafka_clients_use_every_broker_and_replication_factor_3() -> None:
    nodes = brokers()
    assert len(nodes) == 3, f"brokers: {sorted(nodes)}"
    internal = {}
    for name, env in nodes.items():
        for listener in (env.get("KAFKA_ADVERTISED_LISTENERS") or "").split(","):
            address = listener.split("://", 1)[-1]
            if not address.startswith(("localhost:", "127.0.0.1:")):
                internal[address] = name
    clients = {
        name: env
        for name, s in project_services().items()
        if (env := environment(s)).get("KAFKA_BOOTSTRAP_SERVERS")
    }
    code_server = next(n for n, cmd in dagster_services().items() if cmd[:3] == DAGSTER_GRPC)
    for name in ("topics", code_server):
        assert name in clients, f"service {name} talks to Kafka but has no KAFKA_BOOTSTRAP_SERVERS"
    for name, env in clients.items():
        bootstrap = (env["KAFKA_BOOTSTRAP_SERVERS"] or "").split(",")
        unknown = [address for address in bootstrap if address not in internal]
        assert not unknown, f"{name}: {unknown} is no broker's advertised listener {internal}"
        assert {internal[a] for a in bootstrap} == set(nodes), f"{name} misses a broker"
        assert env.get("KAFKA_REPLICATION_FACTOR") == "3", f"{name}: topics created with RF != 3"


def test_brokers_form_one_kraft_cluster_with_rf_3_and_min_isr_2() -> None:
    nodes = brokers()
    assert len(nodes) == 3, f"brokers: {sorted(nodes)}"
    for name, env in nodes.items():
        wrong = {k: env.get(k) for k, v in BROKER_SETTINGS.items() if env.get(k) != v}
        assert not wrong, f"{name}: {wrong}, expected {BROKER_SETTINGS}"
        assert set((env.get("KAFKA_PROCESS_ROLES") or "").split(",")) == {"broker", "controller"}
        assert "healthcheck" in services()[name], f"{name} has no healthcheck"
    assert len({env.get("CLUSTER_ID") for env in nodes.values()}) == 1, "one CLUSTER_ID"
    voters = {env.get("KAFKA_CONTROLLER_QUORUM_VOTERS") for env in nodes.values()}
    assert len(voters) == 1, f"brokers disagree on the controller quorum: {voters}"
    [quorum_voters] = voters
    assert quorum_voters, "no KAFKA_CONTROLLER_QUORUM_VOTERS"
    quorum = {v.split("@")[0]: v.split("@")[1].split(":")[0] for v in quorum_voters.split(",")}
    node_ids = {
        env.get("KAFKA_NODE_ID"): services()[name].get("hostname", name)
        for name, env in nodes.items()
    }
    assert quorum == node_ids, f"quorum voters {quorum} are not the nodes {node_ids}"


def test_dagster_instance_uses_postgres_from_variables_every_dagster_service_sets() -> None:
    from dagster._core.instance.config import dagster_instance_config  # private: schema check

    config, _ = dagster_instance_config(str(DAGSTER_YAML.parent), DAGSTER_YAML.name)
    assert "postgres" in config.get("storage", {}), "runs, event logs and schedules: postgres"
    references = env_references(yaml.safe_load(DAGSTER_YAML.read_text()))
    assert references == {f"DAGSTER_PG_{n}" for n in ("HOST", "PORT", "USER", "PASSWORD", "DB")}

    dagster = dagster_services()
    for program in ("dagster-webserver", "dagster-daemon"):
        service_running(program)
    for name in dagster:
        env = {**dockerfile().env, **environment(services()[name])}
        missing = sorted(var for var in references if not env.get(var))
        assert not missing, f"service {name} runs Dagster without {missing}"

    # The database the instance is pointed at is the compose postgres service's.
    env = environment(services()[next(iter(dagster))])
    host = env.get("DAGSTER_PG_HOST")
    assert host in services(), f"DAGSTER_PG_HOST={host} is not a service"
    assert env.get("DAGSTER_PG_PORT") == "5432", "the postgres image listens on 5432"
    database = environment(services()[host])
    for suffix in ("USER", "PASSWORD", "DB"):
        assert database.get(f"POSTGRES_{suffix}") == env.get(f"DAGSTER_PG_{suffix}")


def test_dagster_instance_connects_with_psycopg2() -> None:
    """SQLAlchemy 2.1 maps a plain postgresql:// URL to psycopg 3, whose NOTIFY fails; the
    instance names the psycopg2 driver, which the project installs."""
    from dagster_postgres.utils import pg_url_from_config

    storage = yaml.safe_load(DAGSTER_YAML.read_text())["storage"]["postgres"]
    resolved = {key: "x" for key in storage["postgres_db"] if key != "scheme"} | {"port": 5432}
    url = pg_url_from_config({"postgres_db": {**storage["postgres_db"], **resolved}})
    assert url.startswith("postgresql+psycopg2://"), url
    assert "psycopg2-binary" in " ".join(pyproject()["project"]["dependencies"])


def test_the_postgres_tests_run_this_very_dagster_yaml() -> None:
    """One instance file: the PostgreSQL tests copy docker/dagster.yaml, not a look-alike."""
    from tests.postgres import DAGSTER_YAML as TESTED

    assert TESTED.resolve() == DAGSTER_YAML.resolve()
    config = yaml.safe_load(DAGSTER_YAML.read_text())
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["max_resume_run_attempts"] == 0  # DefaultRunLauncher


def test_dagster_instance_classes_import_and_their_config_is_valid() -> None:
    from dagster._config import validate_config

    config = yaml.safe_load(DAGSTER_YAML.read_text())
    for key, value in config.items():
        if isinstance(value, dict) and {"module", "class"} <= set(value):
            cls = getattr(importlib.import_module(value["module"]), value["class"])
            result = validate_config(cls.config_type(), value.get("config", {}))
            assert result.success, f"{key}: {result.errors}"

    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"
    assert config["concurrency"]["runs"]["max_concurrent_runs"] >= 1
    assert config["concurrency"]["pools"]["default_limit"] == 1
    from ownlens_pipelines.definitions import defs
    from ownlens_pipelines.dev import DAGSTER_YAML as LOCAL

    assert yaml.safe_load(LOCAL)["concurrency"]["pools"]["default_limit"] == 1
    # the Delta tables take concurrent writers: no op of any job waits for a pool
    jobs = defs().get_repository_def().get_all_jobs()
    assert jobs and {op.pool for job in jobs for op in job.graph.iterate_op_defs()} == {None}
    assert config["telemetry"] == {"enabled": False}


def test_image_holds_dagster_yaml_in_dagster_home_and_can_use_postgres() -> None:
    image = dockerfile()
    home = image.env.get("DAGSTER_HOME")
    assert home, "the image sets no DAGSTER_HOME"
    assert image.source_of(PurePosixPath(home) / "dagster.yaml") == DAGSTER_YAML
    installed = " ".join(image.runs) + " ".join(pyproject()["project"]["dependencies"])
    assert "dagster-postgres" in installed, "postgres storage needs dagster-postgres"


def test_webserver_and_daemon_load_the_workspace_the_image_holds() -> None:
    from dagster._core.workspace.config_schema import process_workspace_config  # private

    workspace = yaml.safe_load(WORKSPACE_YAML.read_text())
    assert process_workspace_config(workspace).success
    for program in ("dagster-webserver", "dagster-daemon"):
        name, command = service_running(program)
        paths = option_values(command, "-w", "--workspace")
        assert paths, f"{name} is given no workspace file"
        for path in paths:
            source = dockerfile().source_of(PurePosixPath(path))
            assert source == WORKSPACE_YAML, f"{name}: {path} in the image comes from {source}"


def test_workspace_points_at_the_code_server_service() -> None:
    servers = [e["grpc_server"] for e in yaml.safe_load(WORKSPACE_YAML.read_text())["load_from"]]
    assert servers, "the workspace loads no gRPC server"
    for server in servers:
        assert server["host"] in services(), f"no service {server['host']}"
        command = command_of(server["host"])
        assert command[:3] == DAGSTER_GRPC, command
        assert option_values(command, "-p", "--port") == [str(server["port"])]
        assert option_values(command, "-h", "--host") == ["0.0.0.0"]
        assert server["location_name"] == pyproject()["tool"]["dagster"]["code_location_name"]


def test_warehouse_is_one_named_volume_shared_by_code_location_webserver_and_daemon() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in services().items():
        unknown = set(named_volume_mounts(service).values()) - declared
        assert not unknown, f"{name} mounts undeclared volumes {unknown}"

    volumes = set()
    for name in dagster_services():
        env = {**dockerfile().env, **environment(services()[name])}
        warehouse = env.get(WAREHOUSE_VARIABLE)
        assert warehouse, f"{name} has no {WAREHOUSE_VARIABLE}"
        mounts = named_volume_mounts(services()[name])
        volume = mounts.get(str(PurePosixPath(warehouse).parent))
        assert volume, f"{name}: {warehouse} is not on a named volume ({mounts})"
        volumes.add(volume)
    assert len(dagster_services()) >= 3
    assert len(volumes) == 1, f"the Dagster services see different warehouses: {volumes}"
