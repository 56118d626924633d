"""Failures a user can fix, each shown as one line with an exit code (2: a bad argument or setting,
1: the world is not as needed), never a traceback, never a secret."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click
import duckdb
from confluent_kafka import KafkaError, KafkaException
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from ownlens_kafka.cli_output import printable
from ownlens_kafka.config import (
    MASK,
    ConfigError,
    KafkaConfig,
    get_config,
    settings_error,
)
from ownlens_kafka.errors import BrokerStartError, DeliveryError
from ownlens_kafka.lag import UnknownTopicError

USAGE = 2  # a bad argument or setting
FAILURE = 1  # a runtime failure the user can fix
NO_SPACE = "No space left on device"


class UserError(click.ClickException):
    """A failure the user can fix: one line (control characters escaped, secrets masked)."""

    exit_code = FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(one_line(scrub(message)))


class BadSetting(UserError):
    """A bad argument or `KAFKA_*`/`OWNLENS_*` setting."""

    exit_code = USAGE


def one_line(text: str) -> str:
    return printable(" ".join(text.split()))


def scrub(text: str) -> str:
    """`text` with every secret of the `KAFKA_*` settings masked."""
    try:
        return get_config().mask_secrets(text)
    except ConfigError:  # unreadable settings: mask the plain secrets at least
        for name in ("KAFKA_SASL_PASSWORD", "KAFKA_SSL_KEY_PASSWORD"):
            secret = os.environ.get(name)
            if secret:
                text = text.replace(secret, MASK)
        return text


def _config(exc: ConfigError) -> tuple[str, int]:
    return str(exc), USAGE


def _settings(exc: ValidationError | SettingsError) -> tuple[str, int] | None:
    """A settings class that failed to read the environment outside `read_settings`."""
    title = exc.title if isinstance(exc, ValidationError) else ""
    if isinstance(exc, ValidationError) and title not in _settings_classes():
        return None  # an event or some other model: a bug, not a user error
    cls = _settings_classes().get(title, KafkaConfig)
    return str(settings_error(exc, cls)), USAGE


def _settings_classes() -> dict[str, type[BaseSettings]]:
    found: dict[str, type[BaseSettings]] = {}
    pending: list[type[BaseSettings]] = [BaseSettings]
    while pending:
        for cls in pending.pop().__subclasses__():
            found[cls.__name__] = cls
            pending.append(cls)
    return found


def _kafka(exc: KafkaException) -> tuple[str, int]:
    error = exc.args[0] if exc.args else None
    if not isinstance(error, KafkaError):
        return f"Kafka: {exc}", FAILURE
    if error.code() == KafkaError._INVALID_ARG:
        return f"Kafka client settings: {error.str()}", USAGE
    return f"Kafka: {error.str()}", FAILURE


def _delivery(exc: DeliveryError) -> tuple[str, int]:
    head = str(exc).splitlines()[0]
    if exc.failures:
        first = exc.failures[0]
        head += f" (first: {first.topic}: {first.reason})"
    return f"records were not delivered: {head}", FAILURE


def _unknown_topic(exc: UnknownTopicError) -> tuple[str, int]:
    return f"{exc}; create it with `ownlens topics create`", FAILURE


def _warehouse(exc: duckdb.Error) -> tuple[str, int]:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"warehouse: {first}", FAILURE


def _file(exc: OSError) -> tuple[str, int] | None:
    if exc.filename is None:
        return None
    return f"{exc.strerror or exc}: {exc.filename}", FAILURE


def _plain(exc: BaseException) -> tuple[str, int]:
    return str(exc), FAILURE


# The mapping: which failures are the user's to fix, and how each reads. Anything else is a bug
# and keeps its traceback.
RULES: Sequence[tuple[type[BaseException], Callable[[Any], tuple[str, int] | None]]] = (
    (ConfigError, _config),
    (ValidationError, _settings),
    (SettingsError, _settings),
    (KafkaException, _kafka),
    (DeliveryError, _delivery),
    (UnknownTopicError, _unknown_topic),
    (BrokerStartError, _plain),
    (TimeoutError, _plain),
    (duckdb.Error, _warehouse),
    (OSError, _file),
)


def user_error(exc: BaseException) -> UserError | None:
    """The one line for `exc`, if it is a failure the user can fix."""
    full = no_space(exc)
    if full is not None:
        return UserError(f"the disk is full: {full}")
    for kind, describe in RULES:
        if isinstance(exc, kind):
            found = describe(exc)
            if found is not None:
                message, code = found
                return BadSetting(message) if code == USAGE else UserError(message)
    return None


def no_space(exc: BaseException) -> str | None:
    """The "No space left on device" message anywhere in `exc`'s chain: a full disk at COMMIT
    surfaces as a failed ROLLBACK whose context holds the real cause."""
    for link in _chain(exc):
        is_full = isinstance(link, OSError) and link.errno == errno.ENOSPC
        if is_full or NO_SPACE in str(link):
            lines = [line for line in str(link).splitlines() if NO_SPACE in line]
            return lines[0] if lines else NO_SPACE
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        link = pending.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        pending += [e for e in (link.__cause__, link.__context__) if e is not None]


class OwnlensGroup(click.Group):
    """The `ownlens` command group: a mistake or an expected failure is one line and an exit
    code, for every subcommand and every argument."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            error = user_error(exc)
            if error is None:
                raise
            raise error from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            click.echo(f"Error: {describe(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(FAILURE)
        sys.exit(result if isinstance(result, int) else 0)


def describe(exc: click.ClickException) -> str:
    """One line for a click error; a usage error points at the command's help."""
    message = one_line(exc.format_message())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message
