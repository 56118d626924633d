"""One line, exit code 2, no traceback and no secret for every bad setting or argument (these
fail before any broker is contacted); the mapping of expected failures to one line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb
import pytest
from click.testing import CliRunner, Result
from confluent_kafka import KafkaError, KafkaException

import ownlens_pipelines.cli  # noqa: F401  (adds run, stream and dev to `cli`)
from ownlens_kafka.cli import cli
from ownlens_kafka.cli_errors import user_error
from ownlens_kafka.config import reset_config
from ownlens_kafka.errors import DeliveryError, DeliveryFailure
from ownlens_kafka.streams import STREAMS

CANARY = "canary-5eb21d"


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("KAFKA_NAMESPACE", "KAFKA_EXTRA", "OWNLENS_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", CANARY)  # must never be shown
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing may be reached
    reset_config()
    yield
    reset_config()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, prog_name="ownlens")


def assert_one_clear_line(result: Result, *words: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert CANARY not in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("KAFKA_SESSION_TIMEOUT_MS", "abc", ["KAFKA_SESSION_TIMEOUT_MS", "integer"]),
        ("KAFKA_SECURITY_PROTOCOL", "CARRIER_PIGEON", ["KAFKA_SECURITY_PROTOCOL", "'SSL'"]),
        ("KAFKA_EXTRA", "not json", ["KAFKA_EXTRA", "not valid JSON"]),
        ("KAFKA_EXTRA", "[1, 2]", ["KAFKA_EXTRA", "JSON object"]),
        ("KAFKA_EXTRA", '{"no.such.property": 1}', ["KAFKA_EXTRA", "no.such.property"]),
        ("KAFKA_PRODUCER_EXTRA", '{"acks": "maybe"}', ["KAFKA_PRODUCER_EXTRA", "acks"]),
        (
            "KAFKA_EXTRA",
            json.dumps({"sasl.oauthbearer.config": CANARY, "bogus.key": 1}),
            ["KAFKA_EXTRA", "bogus.key"],
        ),
        ("KAFKA_NAMESPACE", "team/a", ["KAFKA_NAMESPACE", "letters, digits"]),
        ("KAFKA_NAMESPACE", "n" * 240, ["KAFKA_NAMESPACE", "at most"]),
        ("KAFKA_SSL_CA_LOCATION", "/no/such/ca.pem", ["KAFKA_SSL_CA_LOCATION"]),
    ],
)
def test_a_bad_kafka_variable_is_one_line(variable: str, value: str, words: list[str]) -> None:
    env = {variable: value}
    if variable == "KAFKA_SSL_CA_LOCATION":
        env["KAFKA_SECURITY_PROTOCOL"] = "SSL"
    for command in (["lag"], ["topics", "list"], ["generate", "--count", "1"], ["run"]):
        assert_one_clear_line(invoke(*command, env=env), *words)
        reset_config()


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("OWNLENS_WAREHOUSE", ":memory:", ["OWNLENS_WAREHOUSE", "in-memory"]),
        ("OWNLENS_BATCH_SIZE", "ten", ["OWNLENS_BATCH_SIZE", "integer"]),
        ("OWNLENS_IDLE_TIMEOUT", "0", ["OWNLENS_IDLE_TIMEOUT", "greater than 0"]),
    ],
)
def test_a_bad_ownlens_variable_is_one_line(variable: str, value: str, words: list[str]) -> None:
    for command in (["run"], ["stream"], ["dev"]):
        assert_one_clear_line(invoke(*command, env={variable: value}), *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["lag", "nope"], ["'nope'", "user_events"]),
        (["dlq", "list", "user_events", "nope"], ["'nope'"]),
        (["dlq", "replay", "nope"], ["'nope'"]),
        (["dlq", "replay"], ["STREAM"]),
        (["stream", "nope"], ["'nope'"]),
        (["generate", "--streams", "user_events,nope"], ["'nope'"]),
        (["generate", "--invalid-ratio", "2"], ["--invalid-ratio"]),
        (["generate", "--count", "-1"], ["--count"]),
        (["generate", "--count", "5", "--duration", "1"], ["--count or --duration"]),
        (["dlq", "list", "--limit", "0"], ["--limit"]),
        (["broker", "--port", "0"], ["--port"]),
        (["dev", "--invalid-ratio", "-0.5"], ["--invalid-ratio"]),
        (["run", "--no-such-option"], ["--no-such-option"]),
        (["no-such-command"], ["no-such-command"]),
    ],
)
def test_a_bad_argument_is_one_line(args: list[str], words: list[str]) -> None:
    assert_one_clear_line(invoke(*args), *words)


def test_an_unreachable_broker_is_one_line_and_exit_1() -> None:
    result = invoke("lag")
    assert_one_clear_line(result, "cannot reach Kafka at 127.0.0.1:1", code=1)


@pytest.mark.parametrize(
    "args",
    [["lag"], ["dlq", "list"], ["dlq", "replay"], ["stream"], ["generate"]],
)
def test_every_help_that_takes_streams_lists_them(args: list[str]) -> None:
    result = invoke(*args, "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    missing = [spec.name for spec in STREAMS if spec.name not in text]
    assert not missing, f"{' '.join(args)} --help lacks {missing}"


def test_shell_completion_offers_stream_names() -> None:
    def complete(words: str) -> list[str]:
        result = CliRunner().invoke(
            cli,
            [],
            prog_name="ownlens",
            env={
                "_OWNLENS_COMPLETE": "bash_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            },
        )
        return [line.split(",", 1)[1] for line in result.output.splitlines()]

    assert complete("ownlens lag user") == ["user_events"]
    assert complete("ownlens dlq replay au") == ["audit_logs"]
    assert complete("ownlens generate --streams articles,se") == [
        "articles,sessions",
        "articles,security_events",
    ]
    assert "completion" in invoke("--help").output.lower()


def chained(top: BaseException, cause: BaseException) -> BaseException:
    """`top` raised while handling `cause`, as Python chains them."""
    try:
        try:
            raise cause
        except BaseException:
            raise top  # noqa: B904 (the implicit chain is the point)
    except BaseException as exc:
        return exc


def test_a_full_disk_at_commit_is_named_not_the_failed_rollback() -> None:
    failure = chained(
        duckdb.TransactionException("cannot rollback - no transaction is active"),
        duckdb.IOException(
            'IO Error: Could not write file "w.duckdb.wal": No space left on device'
        ),
    )
    error = user_error(failure)
    assert error is not None and error.exit_code == 1
    assert "No space left on device" in error.message
    assert "cannot rollback" not in error.message


def test_expected_failures_map_to_one_line_and_bugs_do_not() -> None:
    invalid = KafkaException(KafkaError(KafkaError._INVALID_ARG, 'No such property: "x"'))
    mapped = user_error(invalid)
    assert mapped is not None and mapped.exit_code == 2 and "No such property" in mapped.message
    transport = user_error(KafkaException(KafkaError(KafkaError._TRANSPORT, "down")))
    assert transport is not None and transport.exit_code == 1
    failures = [DeliveryFailure("t", "k", "timed out")] * 3
    delivery = user_error(DeliveryError(failures))
    assert delivery is not None and "\n" not in delivery.message and "timed out" in delivery.message
    assert user_error(TimeoutError(f"slow\n{CANARY}")) is not None
    assert CANARY not in (user_error(TimeoutError(f"slow {CANARY}")) or delivery).message
    assert user_error(ZeroDivisionError("a bug")) is None
    assert user_error(KeyError("a bug")) is None
    assert user_error(OSError("no file name")) is None
