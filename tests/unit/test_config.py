"""KafkaConfig: environment parsing, librdkafka dicts, secrets never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ownlens_kafka.config import KafkaConfig, get_config, reset_config

ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "b1:9093,b2:9093",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "svc-ownlens",
    "KAFKA_SASL_PASSWORD": "hunter2-very-secret",
    "KAFKA_SSL_CA_LOCATION": "/etc/ssl/ca.pem",
    "KAFKA_SSL_CERTIFICATE_LOCATION": "/etc/ssl/client.pem",
    "KAFKA_SSL_KEY_LOCATION": "/etc/ssl/client.key",
    "KAFKA_SSL_KEY_PASSWORD": "keypass-secret",
    "KAFKA_CLIENT_ID": "ownlens-prod",
    "KAFKA_EXTRA": '{"socket.keepalive.enable": true, "sasl.oauthbearer.client.secret": "s3cr3t"}',
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def test_reads_every_variable_from_the_environment(env: None) -> None:
    config = KafkaConfig()
    conf = config.producer_config()
    assert conf["bootstrap.servers"] == "b1:9093,b2:9093"
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.username"] == "svc-ownlens"
    assert conf["sasl.password"] == "hunter2-very-secret"
    assert conf["ssl.ca.location"] == "/etc/ssl/ca.pem"
    assert conf["ssl.certificate.location"] == "/etc/ssl/client.pem"
    assert conf["ssl.key.location"] == "/etc/ssl/client.key"
    assert conf["ssl.key.password"] == "keypass-secret"
    assert conf["client.id"] == "ownlens-prod"
    assert conf["socket.keepalive.enable"] is True


def test_printing_never_shows_a_secret(env: None) -> None:
    config = KafkaConfig()
    for text in (repr(config), str(config), f"{config!r}"):
        assert "hunter2" not in text and "s3cr3t" not in text and "keypass" not in text
    assert "svc-ownlens" in repr(config)


def test_producer_defaults_are_safe() -> None:
    conf = KafkaConfig().producer_config()
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True
    assert conf["compression.type"] == "snappy"
    assert conf["allow.auto.create.topics"] is False
    assert conf["linger.ms"] > 0


def test_consumer_commits_manually_from_earliest() -> None:
    conf = KafkaConfig(namespace="stg.").consumer_config("g")
    assert conf["group.id"] == "stg.g"
    assert conf["enable.auto.commit"] is False and conf["enable.auto.offset.store"] is False
    assert conf["auto.offset.reset"] == "earliest"
    assert conf["group.protocol"] == "classic"
    assert conf["fetch.wait.max.ms"] == 100
    assert "group.id" not in KafkaConfig().consumer_config()


def test_merge_order_extras_over_defaults_connection_last() -> None:
    config = KafkaConfig(
        extra={"linger.ms": 1, "bootstrap.servers": "ignored:1"}, producer_extra={"acks": "1"}
    )
    conf = config.producer_config()
    assert conf["linger.ms"] == 1 and conf["acks"] == "1"
    assert conf["bootstrap.servers"] == "127.0.0.1:9092"


def test_bad_values_are_rejected_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "CARRIER_PIGEON")
    with pytest.raises(ValidationError, match="security_protocol"):
        KafkaConfig()


def test_global_config_is_lazy_and_resettable(monkeypatch: pytest.MonkeyPatch) -> None:
    reset_config()
    monkeypatch.setenv("KAFKA_CLIENT_ID", "first")
    assert get_config().client_id == "first"
    monkeypatch.setenv("KAFKA_CLIENT_ID", "second")
    assert get_config().client_id == "first"
    reset_config()
    assert get_config().client_id == "second"
    reset_config()
