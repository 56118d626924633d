"""What every `ownlens` command shares: one clear line for expected failures, stream-name
checking, a fail-fast connection check and plain tables."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from confluent_kafka import KafkaException

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.errors import BrokerStartError
from ownlens_kafka.lag import UnknownTopicError
from ownlens_kafka.streams import STREAMS
from ownlens_kafka.topics import list_topics

F = TypeVar("F", bound=Callable[..., Any])
USER_ERRORS = (BrokerStartError, KafkaException, UnknownTopicError, TimeoutError, KeyError)


def friendly_errors(command: F) -> F:
    """Turn expected failures (bad stream name, unreachable broker) into one clear line."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            raise click.ClickException(str(message)) from None

    return wrapper  # type: ignore[return-value]


def stream_names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    known = {spec.name for spec in STREAMS}
    unknown = [name for name in value if name not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown stream(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    return list(value)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def connection_check(config: KafkaConfig) -> None:
    """Fail fast, with the address, when the cluster cannot be reached."""
    try:
        list_topics(config, timeout=5)
    except KafkaException as exc:
        raise click.ClickException(
            f"cannot reach Kafka at {config.bootstrap_servers} ({exc.args[0].str()}); start one "
            "with `ownlens broker` or set KAFKA_BOOTSTRAP_SERVERS"
        ) from None
