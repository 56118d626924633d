"""`ownlens generate`: demo traffic for the stream topics, with progress and a summary."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import click

from ownlens_kafka.cli_errors import UserError
from ownlens_kafka.cli_helpers import (
    STREAMS_HELP,
    StreamList,
    cli_config,
    connection_check,
    quiet_option,
)
from ownlens_kafka.cli_output import Column, print_table
from ownlens_kafka.cli_progress import ProgressView
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.generator.run import STOP_FLUSH_SECONDS
from ownlens_kafka.generator.run import generate as generate_traffic
from ownlens_kafka.generator.stats import GenerateStats
from ownlens_kafka.streams import get_stream, iter_streams
from ownlens_kafka.topics import list_topics

_COUNTS = ("valid", "invalid", "total")


@click.command("generate", epilog=STREAMS_HELP)
@click.option(
    "--count", type=click.IntRange(min=0), help="Send this many records in total, then stop."
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Send for this long, then stop.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    metavar="PER_SECOND",
    help="Records per second (default: as fast as possible).",
)
@click.option("--seed", type=int, help="Same seed, same records: ids and timestamps included.")
@click.option(
    "--invalid-ratio",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of records that are malformed bytes or schema-invalid JSON.",
)
@click.option(
    "--streams",
    "--stream",
    "streams",
    multiple=True,
    type=StreamList(),
    metavar="NAMES",
    help="Only these streams (comma-separated or repeated; default: all).",
)
@quiet_option
def generate(
    count: int | None,
    duration: float | None,
    rate: float | None,
    seed: int | None,
    invalid_ratio: float,
    streams: tuple[list[str], ...],
    quiet: bool,
) -> None:
    """Send realistic demo traffic to the stream topics.

    Runs until Ctrl-C (or SIGTERM) unless --count or --duration is given. On a stop request it
    stops sending and waits at most 2 s for the broker to acknowledge what was sent. The traffic
    is referentially consistent: articles are published before they are read, sessions are sent
    when they end, compliance requests move through their steps.
    """
    if count is not None and duration is not None:
        raise click.UsageError("use either --count or --duration, not both")
    names = list(dict.fromkeys(name for group in streams for name in group))
    config = cli_config()
    connection_check(config)
    _require_topics(config, names)
    stop = threading.Event()
    with _stop_on_signals(stop), ProgressView(quiet=quiet) as view:
        stats = generate_traffic(
            config,
            count=count,
            duration=duration,
            rate=rate,
            seed=seed,
            invalid_ratio=invalid_ratio,
            streams=names,
            progress=_show(view, count),
            stop=stop,
        )
    print_summary(stats, config)
    if stats.unconfirmed:
        click.echo(
            f"{stats.unconfirmed:,} record(s) sent but not acknowledged within "
            f"{STOP_FLUSH_SECONDS:.0f} s of the stop request (not counted above)",
            err=True,
        )


def _require_topics(config: KafkaConfig, streams: list[str]) -> None:
    existing = list_topics(config)
    topics = [config.topic_name(spec.topic) for spec in iter_streams(streams)]
    missing = [topic for topic in topics if topic not in existing]
    if missing:
        raise UserError(
            f"missing topic(s) {', '.join(missing)}; create them with `ownlens topics create`"
        )


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop`: the run stops sending and ends within a short deadline
    instead of dying mid-batch; a second signal aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _show(view: ProgressView, count: int | None) -> Callable[[GenerateStats], None]:
    """Progress after each flush: all streams together, and each stream on a terminal."""

    def show(stats: GenerateStats) -> None:
        view.update("all streams", stats.total, count)
        if view.live:
            for name, counts in stats.streams.items():
                view.update(name, counts.total)

    return show


def print_summary(stats: GenerateStats, config: KafkaConfig) -> None:
    """Records per stream and topic, then the totals and the rate."""
    rows = [
        (name, config.topic_name(get_stream(name).topic), counts.valid, counts.invalid)
        for name, counts in stats.streams.items()
    ]
    rows.append(("total", "", stats.valid, stats.invalid))
    print_table(
        [Column("stream"), Column("topic"), *(Column(n, numeric=True) for n in _COUNTS)],
        [[n, t, f"{v:,}", f"{i:,}", f"{v + i:,}"] for n, t, v, i in rows],
    )
    click.echo(
        f"sent {stats.total:,} records in {stats.elapsed:.1f} s ({stats.rate:,.0f} records/s)"
    )
