"""KafkaConfig: connection and client settings, read from `KAFKA_*` environment variables."""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LibrdkafkaConfig = dict[str, Any]
_SECRET_WORDS = ("password", "secret", "token")


class KafkaConfig(BaseSettings):
    """Where the Kafka cluster is and how OwnLens clients talk to it."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", frozen=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    client_id: str = "ownlens"
    namespace: str = Field(
        default="",
        description="Prefix for every topic and group id, so environments can share a cluster.",
    )
    replication_factor: int = Field(default=-1, description="-1: the cluster's default.")
    session_timeout_ms: int = Field(default=6_000, ge=1_000)
    heartbeat_interval_ms: int = Field(default=1_500, ge=100)
    linger_ms: int = Field(default=20, ge=0)
    delivery_timeout_ms: int = Field(default=120_000, ge=1)
    extra: dict[str, Any] = Field(
        default_factory=dict, description="librdkafka settings for all clients."
    )
    producer_extra: dict[str, Any] = Field(default_factory=dict)
    consumer_extra: dict[str, Any] = Field(default_factory=dict)

    def topic_name(self, topic: str) -> str:
        return f"{self.namespace}{topic}"

    def group_name(self, group_id: str) -> str:
        return f"{self.namespace}{group_id}"

    def connection_config(self) -> LibrdkafkaConfig:
        """Bootstrap, identity and security settings (contains the password in clear)."""
        conf: LibrdkafkaConfig = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": _reveal(self.sasl_password),
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": _reveal(self.ssl_key_password),
        }
        conf.update({key: value for key, value in optional.items() if value is not None})
        return conf

    def producer_config(self) -> LibrdkafkaConfig:
        """librdkafka producer settings: defaults, then extras, then connection."""
        defaults: LibrdkafkaConfig = {
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "snappy",
            "linger.ms": self.linger_ms,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 500_000,
            "delivery.timeout.ms": self.delivery_timeout_ms,
            "allow.auto.create.topics": False,
        }
        return defaults | self.extra | self.producer_extra | self.connection_config()

    def consumer_config(self, group_id: str | None = None) -> LibrdkafkaConfig:
        """librdkafka consumer settings: manual commits, earliest reset, fast group joins."""
        defaults: LibrdkafkaConfig = {
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "group.protocol": "classic",
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": self.heartbeat_interval_ms,
            "fetch.wait.max.ms": 100,
            # prefetch bounded in bytes, not by the backlog: memory must not grow with lag
            "queued.max.messages.kbytes": 32_768,
            "queued.min.messages": 10_000,
            "fetch.queue.backoff.ms": 100,
            "allow.auto.create.topics": False,
            "enable.partition.eof": False,
        }
        if group_id is not None:
            defaults["group.id"] = self.group_name(group_id)
        return defaults | self.extra | self.consumer_extra | self.connection_config()

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if isinstance(value, dict):
                value = {k: "**********" if _is_secret(k) else v for k, v in value.items()}
            yield name, value


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


@functools.cache
def get_config() -> KafkaConfig:
    """The process-wide KafkaConfig, read from the environment on first use."""
    return KafkaConfig()


def reset_config() -> None:
    """Forget the global config, so the next `get_config()` reads the environment again."""
    get_config.cache_clear()
