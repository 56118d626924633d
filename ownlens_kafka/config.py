"""KafkaConfig: connection and client settings, read from `KAFKA_*` environment variables.

Secrets (the SASL and key passwords, and any librdkafka setting in the `*_EXTRA` objects whose
key carries one) are held as `SecretStr`: masked in every repr, `model_dump()` and
`model_dump_json()`, revealed only in the librdkafka dicts (`connection_config()`,
`producer_config()`, `consumer_config()`) and, on explicit request, `secret_json()`.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Literal, TypeVar

from pydantic import (
    Field,
    FieldSerializationInfo,
    SecretStr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from ownlens_kafka.streams import STREAMS

LibrdkafkaConfig = dict[str, Any]
MASK = "**********"
REVEAL_SECRETS = "reveal_secrets"  # serialization context key: secrets in clear
NAMESPACE_SEPARATORS = (".", "-", "_")
TOPIC_NAME_MAX = 249  # Kafka's limit on a topic name
_TOPIC_CHARACTERS = re.compile(r"[a-zA-Z0-9._-]*")
# librdkafka keys holding a secret: passwords, client secrets, tokens, JAAS and OAUTHBEARER
# configs, private keys and PEM blobs. Paths (`*.location`, `*.file`) are shown: the file's
# permissions guard it, and the path is what a user needs to see when it is wrong.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "passphrase", "credential", "jaas")
_PATH_SUFFIXES = (".location", ".file")
_EXTRAS = ("extra", "producer_extra", "consumer_extra")
_SECRET_FIELDS = ("sasl_password", "ssl_key_password", *_EXTRAS)

S = TypeVar("S", bound=BaseSettings)


def is_secret_key(key: str) -> bool:
    """Whether the librdkafka setting `key` holds a secret (and must never be shown)."""
    name = key.lower()
    if name.endswith(_PATH_SUFFIXES):
        return False
    parts = set(re.split(r"[._]", name))
    oauth_secret = "oauthbearer" in parts and bool(parts & {"config", "assertion"})
    return (
        any(word in name for word in _SECRET_WORDS)
        or name.endswith(".pem")
        or "key" in parts
        or "private" in parts
        or oauth_secret
    )


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
        description="Prefix for every topic and group id, so environments can share a cluster; "
        "a separator (`.`) is added when it ends without one.",
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

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not value:
            return value
        if not _TOPIC_CHARACTERS.fullmatch(value):
            raise ValueError("may hold only letters, digits, '.', '_' and '-' (Kafka topic names)")
        if not value.endswith(NAMESPACE_SEPARATORS):
            value += "."
        longest = max(len(spec.dlq_topic) for spec in STREAMS)
        if len(value) + longest > TOPIC_NAME_MAX:
            raise ValueError(
                f"is {len(value)} characters with its separator; at most "
                f"{TOPIC_NAME_MAX - longest} fit, since topic names end at {TOPIC_NAME_MAX}"
            )
        return value

    @field_validator(*_EXTRAS)
    @classmethod
    def _hide_secret_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {
            key: SecretStr(str(item))
            if is_secret_key(key) and item is not None and not isinstance(item, SecretStr)
            else item
            for key, item in value.items()
        }

    @field_serializer(*_SECRET_FIELDS, mode="wrap")
    def _secrets_on_request(
        self, value: Any, handler: SerializerFunctionWrapHandler, info: FieldSerializationInfo
    ) -> Any:
        if isinstance(info.context, dict) and info.context.get(REVEAL_SECRETS):
            return _revealed(value)
        return handler(value)

    def secret_json(self) -> str:
        """JSON with every secret in clear, for handing this config to a child process
        (`KafkaConfig.model_validate_json` reads it back). Never print or log it."""
        return self.model_dump_json(context={REVEAL_SECRETS: True})

    def secret_values(self) -> list[str]:
        """Every secret this config holds, to scrub from text that will be shown."""
        found = [self.sasl_password, self.ssl_key_password]
        for extra in (self.extra, self.producer_extra, self.consumer_extra):
            found += [value for value in extra.values() if isinstance(value, SecretStr)]
        return [secret.get_secret_value() for secret in found if secret is not None]

    def mask_secrets(self, text: str) -> str:
        """`text` with every secret of this config replaced by the mask."""
        for secret in sorted(self.secret_values(), key=len, reverse=True):
            if secret:
                text = text.replace(secret, MASK)
        return text

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
        return (
            defaults
            | in_clear(self.extra)
            | in_clear(self.producer_extra)
            | self.connection_config()
        )

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
        return (
            defaults
            | in_clear(self.extra)
            | in_clear(self.consumer_extra)
            | self.connection_config()
        )


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def in_clear(settings: dict[str, Any]) -> LibrdkafkaConfig:
    """librdkafka settings (an `*_EXTRA` object) with their secrets in clear, for librdkafka."""
    return {key: _revealed(value) for key, value in settings.items()}


def _revealed(value: Any) -> Any:
    """A secret, or a dict of settings some of which are secrets, with the secrets in clear."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _revealed(v) for k, v in value.items()}
    return value


class ConfigError(ValueError):
    """Settings read from the environment are invalid. The message names each variable and the
    problem, never the value (it may be a secret)."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems.items()))


def read_settings(cls: type[S]) -> S:
    """`cls()` read from the environment; a bad value raises ConfigError naming its variable."""
    try:
        return cls()
    except ValidationError as exc:
        raise settings_error(exc, cls) from None
    except SettingsError as exc:
        raise settings_error(exc, cls) from None


def settings_error(exc: ValidationError | SettingsError, cls: type[BaseSettings]) -> ConfigError:
    """The ConfigError for a failure to read `cls` (or the KafkaConfig inside it)."""
    prefixes = {cls.__name__: _prefix(cls), KafkaConfig.__name__: _prefix(KafkaConfig)}
    if isinstance(exc, SettingsError):
        match = re.search(r'field "(\w+)"', str(exc))
        field = match.group(1) if match else "?"
        cause = exc.__cause__ or exc.__context__
        why = f"not valid JSON ({cause})" if isinstance(cause, json.JSONDecodeError) else str(exc)
        return ConfigError({f"{_prefix(cls)}{field.upper()}": why})
    prefix = prefixes.get(exc.title, _prefix(cls))
    problems: dict[str, str] = {}
    for item in exc.errors(include_url=False, include_input=False):
        field = str(item["loc"][0]) if item["loc"] else "?"
        why = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "dict_type":
            why = "should be a JSON object"
        problems.setdefault(f"{prefix}{field.upper()}", why)
    return ConfigError(problems)


def _prefix(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix") or "")


@functools.cache
def get_config() -> KafkaConfig:
    """The process-wide KafkaConfig, read from the environment on first use; a bad value
    raises ConfigError naming its `KAFKA_*` variable."""
    return read_settings(KafkaConfig)


def reset_config() -> None:
    """Forget the global config, so the next `get_config()` reads the environment again."""
    get_config.cache_clear()
