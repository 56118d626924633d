"""ETLConfig: the shared settings of the ETL ops, read from `OWNLENS_*` environment variables."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ownlens_kafka.config import KafkaConfig

DEFAULT_WAREHOUSE = ".ownlens/lake"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ETLConfig(BaseSettings):
    """Batch size, run bounds, warehouse root, vacuum retention and Kafka settings of the ETL."""

    model_config = SettingsConfigDict(env_prefix="OWNLENS_", extra="ignore", frozen=True)

    batch_size: int = Field(default=10_000, ge=1, description="Records per warehouse write.")
    max_records: int = Field(default=2_000_000, ge=1, description="Most records one run reads.")
    warehouse: str = Field(
        default=DEFAULT_WAREHOUSE,
        description="Root of the Delta tables: a directory, or an s3://, gs://, az:// URI.",
    )
    vacuum_retention: timedelta = Field(
        default=timedelta(hours=1),
        description="Vacuum keeps replaced files this long, so no running query loses them.",
    )
    idle_timeout: float = Field(default=10.0, gt=0, description="Stop a run after this long idle.")
    flush_interval: float = Field(
        default=4.0,
        ge=0,
        description="A follower gathers a batch this long after its first record (fewer files).",
    )
    sensor_interval: int = Field(default=10, ge=1, description="Seconds between lag checks.")
    sensors_running: bool = Field(default=True, description="Lag sensors start switched on.")
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)

    @field_validator("vacuum_retention", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """Seconds, or a number with a unit: 90s, 30m, 2h, 7d (ISO 8601 durations too)."""
        if isinstance(value, str):
            text = value.strip().lower()
            unit = _UNITS.get(text[-1:]) if text else None
            number = text[:-1] if unit else text
            try:
                return timedelta(seconds=float(number) * (unit or 1))
            except ValueError:
                return value  # pydantic's own parsing, and its error
        return value

    @field_validator("warehouse")
    @classmethod
    def _on_disk(cls, value: str) -> str:
        # offsets are committed after each write: rows that vanish at exit would be lost for good
        if not value.strip() or value.strip().startswith(":memory:"):
            raise ValueError(
                "an in-memory warehouse loses its rows at exit while the Kafka offsets stay "
                "committed; give a directory or an object-store URI"
            )
        if value.strip().endswith(".duckdb"):
            raise ValueError(
                "the warehouse is a directory of Delta tables now, not a DuckDB file; give a "
                "directory (default .ownlens/lake) and see the README's migration notes"
            )
        return value.strip()
