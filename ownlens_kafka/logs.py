"""Route librdkafka's logs and client errors into Python logging instead of stderr."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError

log = logging.getLogger("ownlens_kafka")
librdkafka_log = logging.getLogger("ownlens_kafka.librdkafka")


def _log_client_error(error: KafkaError) -> None:
    log.warning("kafka client error: %s", error.str())


def with_logging(settings: dict[str, Any]) -> dict[str, Any]:
    """librdkafka settings plus the callbacks that send its logs and errors to `logging`."""
    return settings | {"error_cb": _log_client_error, "logger": librdkafka_log}
