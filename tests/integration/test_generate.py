"""`generate` and `ownlens generate` on the broker: the topics hold what the stats report."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pydantic import ValidationError

from ownlens_kafka.broker import EmbeddedBroker, free_port
from ownlens_kafka.cli import cli
from ownlens_kafka.config import KafkaConfig, reset_config
from ownlens_kafka.generator import Traffic, generate
from ownlens_kafka.lag import watermarks
from ownlens_kafka.streams import STREAMS, get_stream
from ownlens_kafka.topics import create_topics
from tests.conftest import wait_for
from tests.helpers import read_topic, value_of


def stored(config: KafkaConfig, stream: str, expected: int) -> list[bytes]:
    topic = config.topic_name(get_stream(stream).topic)
    return [value_of(m) for m in read_topic(config, topic, expected)]


def is_valid(stream: str, value: bytes) -> bool:
    try:
        get_stream(stream).model.model_validate_json(value)
    except ValidationError:
        return False
    return True


def test_topics_hold_exactly_what_the_stats_report(
    kafka_config: KafkaConfig, make_topics: Callable[..., list[str]]
) -> None:
    make_topics()
    stats = generate(kafka_config, count=200, seed=7, invalid_ratio=0.1)
    assert (stats.total, set(stats.streams)) == (200, {s.name for s in STREAMS})
    assert 5 <= stats.invalid <= 40
    expected = list(itertools.islice(Traffic.create(seed=7, invalid_ratio=0.1), 200))
    for spec in STREAMS:
        counts = stats.streams[spec.name]
        values = stored(kafka_config, spec.name, counts.total)
        assert len(values) == counts.total, spec.name
        assert sum(is_valid(spec.name, v) for v in values) == counts.valid, spec.name
        sent = [
            spec.model.model_validate(r.payload).model_dump_json().encode()
            if r.payload is not None
            else r.value
            for r in expected
            if r.stream == spec.name
        ]
        assert Counter(values) == Counter(sent), spec.name


def test_duration_and_rate_bound_the_run(
    kafka_config: KafkaConfig, make_topics: Callable[..., list[str]]
) -> None:
    make_topics(get_stream("security_events"))
    stats = generate(kafka_config, duration=1.0, rate=50, streams=["security_events"])
    assert 40 <= stats.total <= 51
    assert len(stored(kafka_config, "security_events", stats.total)) == stats.total


def test_stop_ends_the_run_after_flushing(
    kafka_config: KafkaConfig, make_topics: Callable[..., list[str]]
) -> None:
    make_topics(get_stream("audit_logs"), get_stream("articles"))
    stop = threading.Event()
    seen: list[int] = []

    def progress(stats: object) -> None:
        seen.append(1)
        stop.set()  # the first flushed progress report ends an otherwise endless run

    stats = generate(
        kafka_config, rate=500, streams=["audit_logs", "articles"], progress=progress, stop=stop
    )
    assert seen and stats.total > 0
    for name, counts in stats.streams.items():
        assert len(stored(kafka_config, name, counts.total)) == counts.total


@pytest.fixture
def cli_env(kafka_config: KafkaConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[KafkaConfig]:
    """`get_config()` reads this test's broker and namespace."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_config.bootstrap_servers)
    monkeypatch.setenv("KAFKA_NAMESPACE", kafka_config.namespace)
    reset_config()
    yield kafka_config
    reset_config()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["generate", *args])


def test_cli_sends_and_prints_a_summary(
    cli_env: KafkaConfig, make_topics: Callable[..., list[str]]
) -> None:
    make_topics(get_stream("articles"), get_stream("sessions"))
    result = invoke("--count", "60", "--seed", "3", "--streams", "articles,sessions")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["stream", "topic", "valid", "invalid", "total"]
    assert [line.split()[0] for line in lines[2:5]] == ["sessions", "articles", "total"]
    assert lines[4].split()[-1] == "60"
    assert "records/s" in lines[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "-5"], "-5 is not in the range x>=0"),
        (["--invalid-ratio", "1.5"], "1.5 is not in the range 0<=x<=1"),
        (["--rate", "0"], "--rate"),
        (["--streams", "user_events,nope"], "unknown stream(s) 'nope'"),
        (["--stream", "bogus"], "unknown stream(s) 'bogus'"),
        (["--count", "10", "--duration", "5"], "either --count or --duration"),
    ],
)
def test_cli_rejects_bad_options_clearly(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_reports_an_unreachable_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    reset_config()
    try:
        result = invoke("--count", "5")
    finally:
        reset_config()
    assert result.exit_code == 1
    assert "cannot reach Kafka" in result.output and "Traceback" not in result.output


def test_cli_reports_missing_topics(cli_env: KafkaConfig) -> None:
    result = invoke("--count", "5", "--stream", "sessions")
    assert result.exit_code == 1
    assert "missing topic(s)" in result.output and "ownlens topics create" in result.output


def test_a_stop_request_ends_promptly_even_with_the_broker_gone() -> None:
    """SIGTERM after the broker died: the run stops sending, gives the broker at most 2 s, and
    exits 0 with its summary (it used to wait out the delivery timeout, then get SIGKILLed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    with EmbeddedBroker() as broker:
        config = broker.kafka_config()
        spec = get_stream("audit_logs")
        create_topics(config, [spec])
        env |= {"KAFKA_BOOTSTRAP_SERVERS": config.bootstrap_servers}
        command = [str(Path(sys.executable).parent / "ownlens"), "generate", "--rate", "400"]
        process = subprocess.Popen(
            [*command, "--stream", spec.name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        topic = config.topic_name(spec.topic)
        wait_for(
            lambda: sum(high for _, high in watermarks(config, [topic]).values()) > 0,
            what="records on the topic",
        )
    try:  # the broker is gone; records are still being sent
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "sent" in out.splitlines()[-1] and "records/s" in out.splitlines()[-1]
