"""`ownlens` commands for the Kafka layer: broker, topics, lag, dead letters, demo traffic."""

from __future__ import annotations

import logging
import signal

import click

from ownlens_kafka.broker import EmbeddedBroker
from ownlens_kafka.cli_errors import OwnlensGroup, UserError
from ownlens_kafka.cli_helpers import (
    STREAM,
    STREAMS_HELP,
    cli_config,
    connection_check,
    json_option,
    quiet_option,
    streams_argument,
)
from ownlens_kafka.cli_output import Column, echo_json, print_table, printable
from ownlens_kafka.cli_progress import ProgressView
from ownlens_kafka.generator.command import generate
from ownlens_kafka.lag import group_lag, stream_groups
from ownlens_kafka.schema_cli import schema
from ownlens_kafka.streams import STREAMS, get_stream, iter_streams
from ownlens_kafka.topics import create_topics, list_topics

COMPLETION_HELP = (
    "Shell completion (commands, options, stream names): "
    'eval "$(_OWNLENS_COMPLETE=bash_source ownlens)" in ~/.bashrc '
    "(zsh_source for ~/.zshrc, fish_source for fish)."
)


@click.group(cls=OwnlensGroup, epilog=COMPLETION_HELP)
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
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=9092,
    show_default=True,
    help="Port on 127.0.0.1.",
)
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
@quiet_option
def topics_create(quiet: bool) -> None:
    """Create every stream topic and dead-letter topic that is missing."""
    config = cli_config()
    connection_check(config)
    created: list[str] = []
    with ProgressView(quiet=quiet, unit="streams") as view:
        for done, spec in enumerate(STREAMS):
            view.update("creating topics", done, len(STREAMS))
            created += create_topics(config, [spec])
        view.update("creating topics", len(STREAMS), len(STREAMS))
    click.echo(f"created {len(created)} topic(s)" + "".join(f"\n  {t}" for t in created))


@topics.command("list")
def topics_list() -> None:
    """The stream table with each topic's partition count on the cluster."""
    config = cli_config()
    connection_check(config)
    existing = list_topics(config)
    rows = []
    for spec in STREAMS:
        for topic in (config.topic_name(spec.topic), config.topic_name(spec.dlq_topic)):
            count = existing.get(topic)
            rows.append([spec.name, topic, count if count is not None else "missing"])
    print_table([Column("stream"), Column("topic"), Column("partitions", numeric=True)], rows)


@cli.command(epilog=STREAMS_HELP)
@streams_argument
@json_option
def lag(streams: tuple[str, ...], as_json: bool) -> None:
    """Lag of each stream's consumer group, per partition (all streams by default), with the
    group and topic named as on the cluster (namespace included)."""
    config = cli_config()
    connection_check(config)
    specs = list(iter_streams(list(streams)))
    stream_of = {spec.group_id: spec.name for spec in specs}
    lags = group_lag(config, stream_groups(config, specs))
    rows = [
        {
            "stream": stream_of[p.group_id],
            "group": config.group_name(p.group_id),
            "topic": p.topic,
            "partition": p.partition,
            "committed": p.committed,
            "end": p.end,
            "lag": p.lag,
        }
        for p in lags
    ]
    total = sum(p.lag for p in lags)
    if as_json:
        echo_json({"total_lag": total, "partitions": rows})
        return
    columns = [
        Column("stream"),
        Column("group", overflow="fold"),
        Column("topic", overflow="fold"),
        *(Column(name, numeric=True) for name in ("partition", "committed", "end", "lag")),
    ]
    print_table(columns, [list(row.values()) for row in rows])
    click.echo(f"total lag: {total}")


def main() -> None:
    cli(prog_name="ownlens")


cli.add_command(generate)
cli.add_command(schema)


@cli.group()
def dlq() -> None:
    """Inspect or replay dead-lettered records."""


@dlq.command("list", epilog=STREAMS_HELP)
@streams_argument
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Most records shown per stream.",
)
@json_option
def dlq_list(streams: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Dead-lettered records of the streams (all by default) with their reason."""
    from ownlens_kafka.dlq import list_dead_letters

    config = cli_config()
    connection_check(config)
    letters = [
        letter
        for spec in iter_streams(list(streams))
        for letter in list_dead_letters(config, spec, limit)
    ]
    if as_json:
        echo_json(
            {
                "dead_letters": [
                    {
                        "stream": d.stream,
                        "topic": config.topic_name(get_stream(d.stream).dlq_topic),
                        "partition": d.partition,
                        "offset": d.offset,
                        "source_partition": d.source_partition,
                        "source_offset": d.source_offset,
                        "key": d.key,
                        "error_type": d.error_type,
                        "error": d.error,
                    }
                    for d in letters
                ]
            }
        )
        return
    if not letters:
        click.echo("no dead-lettered records")
        return
    print_table(
        [
            Column("stream"),
            Column("source"),
            Column("key", overflow="fold"),
            Column("type"),
            Column("reason", overflow="ellipsis"),
        ],
        [
            [d.stream, f"{d.source_partition}@{d.source_offset}", d.key, d.error_type, d.error]
            for d in letters
        ],
    )


@dlq.command("replay", epilog=STREAMS_HELP)
@click.argument("stream", type=STREAM)
@quiet_option
def dlq_replay(stream: str, quiet: bool) -> None:
    """Re-publish a stream's dead letters through validation; report what still fails (it is
    dead-lettered again) and what cannot be read (skipped). Exits 1 if any letter is left."""
    from ownlens_kafka.dlq import replay

    spec = get_stream(stream)
    config = cli_config()
    connection_check(config)
    with ProgressView(quiet=quiet, unit="letters") as view:
        result = replay(config, spec, progress=lambda done, total: view.update(stream, done, total))
    failing, unreadable = result.still_failing, result.unreadable
    click.echo(
        f"{stream}: {result.replayed} record(s) re-published, {len(failing)} still failing "
        f"(dead-lettered again), {len(unreadable)} unreadable (skipped)"
        + (f", {result.duplicates} duplicate letter(s) skipped" if result.duplicates else "")
    )
    for letter in failing[:20]:
        click.echo(
            f"  failing {letter.source_partition}@{letter.source_offset}: "
            f"{printable(letter.error[:120])}"
        )
    for skipped in unreadable[:20]:
        dead_topic = config.topic_name(spec.dlq_topic)
        click.echo(
            f"  unreadable {dead_topic}/{skipped.partition}@{skipped.offset}: {skipped.reason}"
        )
    if not result.ok:
        raise UserError(f"{len(failing) + len(unreadable)} dead letter(s) of {stream} left")
