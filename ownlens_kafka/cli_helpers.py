"""What every `ownlens` command shares: stream-name parameters (checked, completed by the shell,
listed in `--help`), the checked `KAFKA_*` settings, a fail-fast connection check, and the
`--quiet` and `--json` options."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem
from confluent_kafka import Consumer, KafkaException

from ownlens_kafka.cli_errors import UserError
from ownlens_kafka.config import ConfigError, KafkaConfig, get_config, in_clear
from ownlens_kafka.streams import STREAM_NAMES
from ownlens_kafka.topics import list_topics

F = TypeVar("F", bound=Callable[..., Any])
STREAMS_HELP = f"Streams: {', '.join(STREAM_NAMES)}."
_PROBE = {"group.id": "ownlens-settings-check", "log_level": 0}
_KEY = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")  # a dotted librdkafka key


class StreamName(click.Choice[str]):
    """A stream of the stream table: checked, completed by the shell, listed in `--help`."""

    name = "stream"

    def __init__(self) -> None:
        super().__init__(STREAM_NAMES)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "STREAM"

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        return f"unknown stream {value!r}; choose from {', '.join(STREAM_NAMES)}"


class StreamList(click.ParamType[list[str]]):
    """Stream names separated by commas (`articles,sessions`), each checked and completed."""

    name = "streams"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[str]:
        if isinstance(value, list):
            return [str(name) for name in value]
        names = [name.strip() for name in str(value).split(",") if name.strip()]
        unknown = [name for name in names if name not in STREAM_NAMES]
        if unknown:
            self.fail(
                f"unknown stream(s) {', '.join(map(repr, unknown))}; choose from "
                f"{', '.join(STREAM_NAMES)}",
                param,
                ctx,
            )
        return names

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        done, _, last = incomplete.rpartition(",")
        prefix = f"{done}," if done else ""
        return [CompletionItem(prefix + n) for n in STREAM_NAMES if n.startswith(last)]


STREAM = StreamName()


def streams_argument(f: F) -> F:
    """`[STREAM]...`: some streams, all of them when none is given."""
    return click.argument("streams", nargs=-1, type=STREAM, metavar="[STREAM]...")(f)


def quiet_option(f: F) -> F:
    return click.option(
        "-q", "--quiet", is_flag=True, help="No progress display (results and errors still print)."
    )(f)


def json_option(f: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (stable keys) instead of a table."
    )(f)


def cli_config() -> KafkaConfig:
    """The `KAFKA_*` settings, checked: a bad value, or a librdkafka setting that librdkafka
    rejects, raises ConfigError naming the variable (and never its value)."""
    config = get_config()
    check_client_settings(config)
    return config


def check_client_settings(config: KafkaConfig) -> None:
    """Let librdkafka check the settings: a client is created, with no broker to talk to."""
    for field in ("extra", "producer_extra", "consumer_extra"):
        values: dict[str, Any] = getattr(config, field)
        if values:
            problem = _rejected(in_clear(values))
            if problem:
                raise ConfigError({f"KAFKA_{field.upper()}": problem})
    problem = _rejected(config.producer_config() | config.consumer_config())
    if problem:
        raise ConfigError({_variable_of(problem): problem})


def _rejected(settings: dict[str, Any]) -> str | None:
    """librdkafka's complaint about `settings`, or None."""
    probe = _PROBE | {k: v for k, v in settings.items() if k != "bootstrap.servers"}
    try:
        Consumer(probe).close()
    except KafkaException as exc:
        error = exc.args[0]
        return str(error.str() if hasattr(error, "str") else error)
    return None


def _variable_of(problem: str) -> str:
    """The `KAFKA_*` variable of the first librdkafka key that `problem` names."""
    for key in _KEY.findall(problem):
        field = key.replace(".", "_")
        if field in KafkaConfig.model_fields:
            return f"KAFKA_{field.upper()}"
    return "KAFKA_* settings"


def connection_check(config: KafkaConfig) -> None:
    """Fail fast, with the address, when the cluster cannot be reached."""
    try:
        list_topics(config, timeout=5)
    except KafkaException as exc:
        raise UserError(
            f"cannot reach Kafka at {config.bootstrap_servers} ({exc.args[0].str()}); start one "
            "with `ownlens broker` or set KAFKA_BOOTSTRAP_SERVERS"
        ) from None
