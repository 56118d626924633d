"""OwnLens Dagster code location: raw and domain assets fed by the Kafka streams."""
