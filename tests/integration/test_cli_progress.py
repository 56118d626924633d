"""Progress of the long commands as a user sees it: on a pseudo-terminal, live bars per stream;
with `--quiet`, none; in a pipe (a CI log), no terminal escapes at all."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from confluent_kafka import Producer

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.generator import generate
from ownlens_kafka.streams import get_stream
from tests.factories import valid_payload

OWNLENS = str(Path(sys.executable).parent / "ownlens")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BAR = "━"


def terminal_env() -> dict[str, str]:
    """This test's environment (broker, namespace, warehouse) as a terminal session has it."""
    dropped = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return env | {"TERM": "xterm-256color"}


def on_terminal(*args: str, timeout: float = 240.0) -> tuple[int, str]:
    """Run `ownlens ARGS` on a pseudo-terminal of 120 columns; its exit code and everything it
    drew (escapes included)."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [OWNLENS, *args], stdin=side, stdout=side, stderr=side, env=terminal_env()
    )
    os.close(side)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(main, 65_536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        process.kill()
        os.close(main)
    return code, b"".join(chunks).decode(errors="replace")


def bars(drawn: str) -> set[str]:
    """The names of the tasks that had a bar drawn."""
    plain = ANSI.sub("", drawn.replace("\r", "\n"))
    return set(re.findall(rf"(\w[\w ]*?) +{BAR}+", plain))


def test_generate_draws_a_bar_per_stream_and_none_when_quiet(env) -> None:
    code, drawn = on_terminal(
        "generate", "--count", "3000", "--rate", "1500", "--streams", "user_events,sessions"
    )
    assert code == 0, drawn
    assert {"all streams", "user_events", "sessions"} <= bars(drawn), drawn
    assert re.search(r"3,000/3,000 records", ANSI.sub("", drawn)), drawn
    code, drawn = on_terminal("generate", "--count", "300", "--stream", "sessions", "--quiet")
    assert code == 0, drawn
    assert BAR not in drawn and "sent 300 records" in drawn


def test_run_draws_a_bar_per_stream(env, kafka_config: KafkaConfig) -> None:
    generate(kafka_config, count=2_000, seed=3, streams=["user_events", "audit_logs"])
    code, drawn = on_terminal("run")
    assert code == 0, drawn
    assert {"user_events", "audit_logs"} <= bars(drawn), drawn
    assert "ingesting every stream" in drawn
    plain = ANSI.sub("", drawn)
    assert "rows written" in plain and "lag after" in plain  # the summary table follows


def test_dlq_replay_draws_a_bar(env, kafka_config: KafkaConfig) -> None:
    spec = get_stream("sessions")
    raw = Producer(kafka_config.producer_config())
    value = json.dumps(valid_payload(spec.model)).encode()
    for offset in range(200):
        headers: list[tuple[str, str | bytes | None]] = [
            ("dlq.source_partition", b"0"),
            ("dlq.source_offset", str(offset).encode()),
        ]
        raw.produce(kafka_config.topic_name(spec.dlq_topic), value, key=b"k", headers=headers)
    assert raw.flush(10) == 0
    code, drawn = on_terminal("dlq", "replay", "sessions")
    assert code == 0, drawn
    assert "sessions" in bars(drawn), drawn
    assert "200 record(s) re-published" in drawn


def test_a_pipe_gets_no_terminal_escapes(env) -> None:
    result = subprocess.run(
        [OWNLENS, "generate", "--count", "500", "--stream", "articles"],
        env=terminal_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert BAR not in result.stdout + result.stderr
    assert "sent 500 records" in result.stdout
