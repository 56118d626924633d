"""Topic administration from the stream table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.dead_letter import dead_letter_topic
from ownlens_kafka.logs import with_logging
from ownlens_kafka.streams import STREAMS, StreamSpec


def stream_topics(config: KafkaConfig, specs: Iterable[StreamSpec] = STREAMS) -> list[NewTopic]:
    """Each stream's topic and its dead-letter topic, as the cluster will name them."""
    topics = []
    for spec in specs:
        name = config.topic_name(spec.topic)
        for topic in (name, dead_letter_topic(name)):
            topics.append(
                NewTopic(
                    topic,
                    num_partitions=spec.partitions,
                    replication_factor=config.replication_factor,
                )
            )
    return topics


def create_topics(
    config: KafkaConfig, specs: Iterable[StreamSpec] = STREAMS, timeout: float = 15.0
) -> list[str]:
    """Create every missing topic and dead-letter topic; returns the names created (idempotent)."""
    admin = AdminClient(with_logging(config.connection_config()))
    futures = admin.create_topics(
        stream_topics(config, specs), operation_timeout=timeout, request_timeout=timeout
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        else:
            created.append(name)
    return sorted(created)


def list_topics(config: KafkaConfig, timeout: float = 10.0) -> dict[str, int]:
    """Topic name -> partition count, for every topic on the cluster."""
    metadata = AdminClient(with_logging(config.connection_config())).list_topics(timeout=timeout)
    return {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if not name.startswith("__")
    }


def topic_ids(
    admin: AdminClient, topics: Sequence[str], timeout: float = 10.0
) -> dict[str, str | None]:
    """The cluster's id of each topic's current incarnation (None where the cluster has none)."""
    ids: dict[str, str | None] = {}
    for topic, future in admin.describe_topics(
        TopicCollection(list(topics)), request_timeout=timeout
    ).items():
        try:
            found = future.result().topic_id
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNSUPPORTED_VERSION:
                raise
            found = None  # incarnations cannot be told apart on such a cluster
        ids[topic] = str(found) if found is not None else None
    return ids
