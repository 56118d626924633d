"""Fixtures for the code-location tests: the environment a deployment sets, the definitions."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from ownlens_kafka import reset_config


@pytest.fixture
def env(kafka_config, make_topics, tmp_path, monkeypatch) -> Iterator[dict[str, str]]:
    """The environment a deployment would set: broker, namespace, warehouse."""
    make_topics()
    values = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_config.bootstrap_servers,
        "KAFKA_NAMESPACE": kafka_config.namespace,
        "KAFKA_SESSION_TIMEOUT_MS": str(kafka_config.session_timeout_ms),
        "KAFKA_HEARTBEAT_INTERVAL_MS": str(kafka_config.heartbeat_interval_ms),
        "OWNLENS_WAREHOUSE": str(tmp_path / "lake"),
        "OWNLENS_IDLE_TIMEOUT": "5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_config()
    yield values
    reset_config()


@pytest.fixture
def defs(env) -> dg.Definitions:
    from ownlens_pipelines.definitions import defs as load

    return load()
