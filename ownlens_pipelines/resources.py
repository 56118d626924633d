"""Dagster resources: the Kafka cluster and the warehouse (`warehouse.WarehouseResource`)."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, field_serializer

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.consumer import BaseKafkaConsumer
from ownlens_kafka.lag import PartitionLag, group_lag, stream_groups
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import StreamSpec
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import WarehouseResource

__all__ = ["IngestConfig", "KafkaResource", "WarehouseResource"]


class KafkaResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Kafka cluster of the OwnLens streams; unset fields fall back to `KAFKA_*` variables."""

    bootstrap_servers: str | None = None
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    # Dagster config has no SecretStr: bound with dg.EnvVar, hidden from repr and dumps
    sasl_password: str | None = Field(default=None, repr=False)
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = Field(default=None, repr=False)
    client_id: str | None = None
    namespace: str | None = None
    session_timeout_ms: int | None = None
    heartbeat_interval_ms: int | None = None

    @field_serializer("sasl_password", "ssl_key_password")
    def _masked(self, value: str | None) -> str | None:
        return None if value is None else "**********"

    def kafka_config(self) -> KafkaConfig:
        """The resource's fields over the environment's `KAFKA_*` settings."""
        fields = {name: getattr(self, name) for name in KafkaResource.model_fields}
        return KafkaConfig(**{k: v for k, v in fields.items() if v is not None})

    def producer(self, spec: StreamSpec) -> BaseKafkaProducer[Any]:
        """A validated producer for the stream (flush or use it as a context manager)."""
        return BaseKafkaProducer(self.kafka_config(), stream=spec)

    def consumer(self, spec: StreamSpec, group_id: str | None = None) -> BaseKafkaConsumer[Any]:
        """A validated consumer in the stream's group (or `group_id`)."""
        return BaseKafkaConsumer(self.kafka_config(), group_id, stream=spec)

    def lag(self, *specs: StreamSpec, timeout: float = 10.0) -> list[PartitionLag]:
        """Lag per partition of each stream's consumer group, read without joining it."""
        config = self.kafka_config()
        return group_lag(config, stream_groups(config, specs), timeout=timeout)


class IngestConfig(dg.Config):
    """Per-run overrides of the ETL settings (empty: `OWNLENS_*` variables or defaults)."""

    batch_size: int | None = None
    max_records: int | None = None

    def etl(self, kafka: KafkaResource, warehouse: WarehouseResource) -> ETLConfig:
        own = self.model_dump(include={"batch_size", "max_records"})
        overrides = {k: v for k, v in own.items() if v is not None}
        return ETLConfig(kafka=kafka.kafka_config(), warehouse=warehouse.root, **overrides)
