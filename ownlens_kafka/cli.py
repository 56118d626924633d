"""`ownlens` commands for the Kafka layer: broker, topics, lag."""

from __future__ import annotations

import logging
import signal

import click

from ownlens_kafka.broker import EmbeddedBroker
from ownlens_kafka.cli_helpers import connection_check, friendly_errors, stream_names, table
from ownlens_kafka.config import get_config
from ownlens_kafka.generator.command import generate
from ownlens_kafka.lag import group_lag, stream_groups
from ownlens_kafka.streams import STREAMS, iter_streams
from ownlens_kafka.topics import create_topics, list_topics


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what the clients do.")
def cli(verbose: bool) -> None:
    """OwnLens: typed Kafka event streams turned into Dagster data assets."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # connection failures are reported once, by the command itself
        logging.getLogger("ownlens_kafka.librdkafka").setLevel(logging.CRITICAL)
        logging.getLogger("ownlens_kafka").setLevel(logging.ERROR)


@cli.command()
@click.option("--port", type=int, default=9092, show_default=True, help="Port on 127.0.0.1.")
@friendly_errors
def broker(port: int) -> None:
    """Run the embedded broker (memory only) in the foreground until Ctrl-C."""
    server = EmbeddedBroker(port=port).start(foreground=True)
    config = server.kafka_config()
    created = create_topics(config)
    click.echo(f"broker on {server.bootstrap_servers}; created {len(created)} topics")
    click.echo(f"  export KAFKA_BOOTSTRAP_SERVERS={server.bootstrap_servers}")
    click.echo(
        f"  export KAFKA_SESSION_TIMEOUT_MS={config.session_timeout_ms}"
        f" KAFKA_HEARTBEAT_INTERVAL_MS={config.heartbeat_interval_ms}"
    )
    for sig in (signal.SIGINT, signal.SIGTERM):  # explicit: an inherited SIG_IGN stays otherwise
        signal.signal(sig, _interrupt)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@cli.group()
def topics() -> None:
    """Create or list the stream topics."""


@topics.command("create")
@friendly_errors
def topics_create() -> None:
    """Create every stream topic and dead-letter topic that is missing."""
    config = get_config()
    connection_check(config)
    created = create_topics(config)
    click.echo(f"created {len(created)} topic(s)" + "".join(f"\n  {t}" for t in created))


@topics.command("list")
@friendly_errors
def topics_list() -> None:
    """The stream table with each topic's partition count on the cluster."""
    config = get_config()
    connection_check(config)
    existing = list_topics(config)
    rows = []
    for spec in STREAMS:
        for topic in (config.topic_name(spec.topic), config.topic_name(spec.dlq_topic)):
            count = existing.get(topic)
            rows.append([spec.name, topic, str(count) if count is not None else "missing"])
    click.echo(table(rows, ["stream", "topic", "partitions"]))


@cli.command()
@click.argument("streams", nargs=-1, callback=stream_names)
@friendly_errors
def lag(streams: list[str]) -> None:
    """Lag of each stream's consumer group, per partition."""
    config = get_config()
    connection_check(config)
    specs = list(iter_streams(streams))
    lags = group_lag(config, stream_groups(config, specs))
    rows = [
        [
            p.group_id,
            p.topic,
            str(p.partition),
            str(p.committed if p.committed is not None else "-"),
            str(p.end),
            str(p.lag),
        ]
        for p in lags
    ]
    click.echo(table(rows, ["group", "topic", "partition", "committed", "end", "lag"]))
    click.echo(f"total lag: {sum(p.lag for p in lags)}")


def main() -> None:
    cli(prog_name="ownlens")


cli.add_command(generate)


@cli.group()
def dlq() -> None:
    """Inspect or replay dead-lettered records."""


@dlq.command("list")
@click.argument("streams", nargs=-1, callback=stream_names)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Most records shown per stream.",
)
@friendly_errors
def dlq_list(streams: list[str], limit: int) -> None:
    """Dead-lettered records of the streams (all by default) with their reason."""
    from ownlens_kafka.dlq import list_dead_letters

    config = get_config()
    connection_check(config)
    rows = []
    for spec in iter_streams(streams):
        for letter in list_dead_letters(config, spec, limit):
            rows.append(
                [
                    letter.stream,
                    f"{letter.source_partition}@{letter.source_offset}",
                    letter.key or "-",
                    letter.error_type,
                    letter.error[:100],
                ]
            )
    click.echo(
        table(rows, ["stream", "source", "key", "type", "reason"])
        if rows
        else "no dead-lettered records"
    )


@dlq.command("replay")
@click.argument("stream")
@friendly_errors
def dlq_replay(stream: str) -> None:
    """Re-publish a stream's dead letters through validation; report what still fails."""
    from ownlens_kafka.dlq import replay
    from ownlens_kafka.streams import get_stream

    spec = get_stream(stream)
    config = get_config()
    connection_check(config)
    result = replay(config, spec)
    failing = result.still_failing or []
    click.echo(
        f"{stream}: {result.replayed} record(s) re-published, {len(failing)} still "
        "failing (dead-lettered again)"
        + (f", {result.duplicates} duplicate letter(s) skipped" if result.duplicates else "")
    )
    for letter in failing[:20]:
        click.echo(f"  {letter.source_partition}@{letter.source_offset}: {letter.error[:120]}")
