"""KafkaConfig: environment parsing, librdkafka dicts, secrets never shown."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from ownlens_kafka.config import (
    TOPIC_NAME_MAX,
    ConfigError,
    KafkaConfig,
    get_config,
    is_secret_key,
    read_settings,
    reset_config,
)
from ownlens_kafka.streams import STREAMS
from ownlens_pipelines.settings import ETLConfig

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


CANARY = "canary-7f3a9c"
SECRET_SETTINGS = {
    "sasl.password": f"{CANARY}-1",
    "ssl.key.pem": f"{CANARY}-2",
    "ssl.key.password": f"{CANARY}-3",
    "ssl.keystore.password": f"{CANARY}-4",
    "sasl.oauthbearer.config": f"principal=svc {CANARY}-5",
    "sasl.oauthbearer.client.secret": f"{CANARY}-6",
    "sasl.oauthbearer.assertion.private.key.pem": f"{CANARY}-7",
    "sasl.oauthbearer.assertion.private.key.passphrase": f"{CANARY}-8",
    "sasl.jaas.config": f"{CANARY}-9",
    "ssl.certificate.pem": f"{CANARY}-10",
}


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", f"{CANARY}-password")
    monkeypatch.setenv("KAFKA_SSL_KEY_PASSWORD", f"{CANARY}-keypass")
    monkeypatch.setenv("KAFKA_EXTRA", json.dumps(SECRET_SETTINGS | {"linger.ms": 7}))
    monkeypatch.setenv("KAFKA_PRODUCER_EXTRA", json.dumps({"sasl.password": f"{CANARY}-p"}))
    monkeypatch.setenv("KAFKA_CONSUMER_EXTRA", json.dumps({"sasl.password": f"{CANARY}-c"}))
    monkeypatch.setenv("KAFKA_SSL_KEY_LOCATION", "/etc/ssl/client.key")


@pytest.mark.parametrize("key", sorted(SECRET_SETTINGS))
def test_keys_holding_secrets_are_recognized(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["ssl.key.location", "ssl.ca.location", "sasl.username", "linger.ms", "client.id"],
)
def test_paths_and_plain_settings_are_shown(key: str) -> None:
    assert not is_secret_key(key)


def test_no_dump_or_repr_shows_a_secret(secret_env: None) -> None:
    config = KafkaConfig()
    etl = ETLConfig(kafka=config)
    shown = [
        repr(config),
        str(config),
        str(config.model_dump()),
        config.model_dump_json(),
        str(config.model_dump(mode="json")),
        repr(etl),
        str(etl.model_dump()),
        etl.model_dump_json(),
    ]
    leaks = [text for text in shown if CANARY in text]
    assert not leaks, leaks[0]
    assert "/etc/ssl/client.key" in repr(config)  # a path is no secret, and worth seeing
    assert "'linger.ms': 7" in repr(config)


def test_secrets_reach_librdkafka_in_clear(secret_env: None) -> None:
    config = KafkaConfig()
    producer, consumer = config.producer_config(), config.consumer_config("g")
    assert producer["sasl.password"] == consumer["sasl.password"] == f"{CANARY}-password"
    assert producer["ssl.key.password"] == f"{CANARY}-keypass"
    for key, value in SECRET_SETTINGS.items():
        if key not in ("sasl.password", "ssl.key.password"):  # the connection settings win
            assert producer[key] == consumer[key] == value


def test_secret_json_round_trips_and_masks_on_request(secret_env: None) -> None:
    config = KafkaConfig()
    again = KafkaConfig.model_validate_json(config.secret_json())
    assert again.producer_config() == config.producer_config()
    assert again.consumer_config() == config.consumer_config()
    assert CANARY not in repr(again)
    assert KafkaConfig(**config.model_dump()).producer_config() == config.producer_config()
    text = f"failed with {CANARY}-6 and {CANARY}-password"
    assert CANARY not in config.mask_secrets(text)


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [("nc", "nc."), ("nc.", "nc."), ("stg-", "stg-"), ("a_b_", "a_b_"), ("", "")],
)
def test_a_namespace_ends_with_a_separator(namespace: str, expected: str) -> None:
    config = KafkaConfig(namespace=namespace)
    assert config.namespace == expected
    assert config.topic_name("customer-user-events") == f"{expected}customer-user-events"
    assert config.group_name("g") == f"{expected}g"


def test_a_namespace_must_make_legal_topic_names() -> None:
    longest = max((spec.dlq_topic for spec in STREAMS), key=len)
    fits = "n" * (TOPIC_NAME_MAX - len(longest) - 1)  # and the separator added
    assert len(KafkaConfig(namespace=fits).topic_name(longest)) == TOPIC_NAME_MAX
    with pytest.raises(ValidationError, match="at most"):
        KafkaConfig(namespace=fits + "n")
    for bad in ("a/b", "ns with space", "ümlaut", "a:b"):
        with pytest.raises(ValidationError, match="letters, digits"):
            KafkaConfig(namespace=bad)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("KAFKA_SESSION_TIMEOUT_MS", CANARY, "valid integer"),
        ("KAFKA_SECURITY_PROTOCOL", CANARY, "'PLAINTEXT', 'SSL'"),
        ("KAFKA_EXTRA", f'{{"sasl.password": "{CANARY}"', "not valid JSON"),
        ("KAFKA_EXTRA", f'["{CANARY}"]', "JSON object"),
        ("KAFKA_NAMESPACE", f"{CANARY}/x", "letters, digits"),
        ("KAFKA_LINGER_MS", "-1", "greater than or equal to 0"),
    ],
)
def test_a_bad_variable_is_named_without_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(variable, value)
    reset_config()
    with pytest.raises(ConfigError) as caught:
        get_config()
    reset_config()
    message = str(caught.value)
    assert message.startswith(f"{variable}: ") and problem in message
    assert CANARY not in message and "\n" not in message


def test_an_in_memory_warehouse_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in (":memory:", ":memory:named", " "):
        monkeypatch.setenv("OWNLENS_WAREHOUSE", value)
        with pytest.raises(ConfigError, match="OWNLENS_WAREHOUSE: an in-memory warehouse"):
            read_settings(ETLConfig)
    monkeypatch.setenv("OWNLENS_WAREHOUSE", "w-lake")
    assert read_settings(ETLConfig).warehouse == "w-lake"
