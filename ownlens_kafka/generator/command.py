"""`ownlens generate`: demo traffic for the stream topics, with progress and a summary."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import click
from pydantic import ValidationError

from ownlens_kafka.cli_helpers import connection_check, friendly_errors, stream_names
from ownlens_kafka.config import KafkaConfig, get_config
from ownlens_kafka.errors import DeliveryError, describe_validation_error
from ownlens_kafka.generator.run import generate as generate_traffic
from ownlens_kafka.generator.stats import GenerateStats
from ownlens_kafka.streams import get_stream, iter_streams
from ownlens_kafka.topics import list_topics

PROGRESS_EVERY_SECONDS = 5.0


def _stream_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    """`--streams a,b` and `--stream a --stream b`, checked against the stream table."""
    names = [name.strip() for item in value for name in item.split(",") if name.strip()]
    return stream_names(ctx, param, tuple(dict.fromkeys(names)))


@click.command("generate")
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
    callback=_stream_option,
    metavar="NAMES",
    help="Only these streams (comma-separated or repeated; default: all).",
)
@friendly_errors
def generate(
    count: int | None,
    duration: float | None,
    rate: float | None,
    seed: int | None,
    invalid_ratio: float,
    streams: list[str],
) -> None:
    """Send realistic demo traffic to the stream topics.

    Runs until Ctrl-C (or SIGTERM) unless --count or --duration is given; it always flushes
    before exiting. The traffic is referentially consistent: articles are published before they
    are read, sessions are sent when they end, compliance requests move through their steps.
    """
    if count is not None and duration is not None:
        raise click.UsageError("use either --count or --duration, not both")
    try:
        config = get_config()
    except ValidationError as exc:
        raise click.ClickException(
            f"bad KAFKA_* setting: {describe_validation_error(exc)}"
        ) from None
    connection_check(config)
    _require_topics(config, streams)
    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            stats = generate_traffic(
                config,
                count=count,
                duration=duration,
                rate=rate,
                seed=seed,
                invalid_ratio=invalid_ratio,
                streams=streams,
                progress=_Progress(),
                stop=stop,
            )
        except DeliveryError as exc:
            raise click.ClickException(f"records were not delivered: {exc}") from None
    click.echo(summary(stats, config))


def _require_topics(config: KafkaConfig, streams: list[str]) -> None:
    existing = list_topics(config)
    topics = [config.topic_name(spec.topic) for spec in iter_streams(streams)]
    missing = [topic for topic in topics if topic not in existing]
    if missing:
        raise click.ClickException(
            f"missing topic(s) {', '.join(missing)}; create them with `ownlens topics create`"
        )


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop`: the run flushes and ends instead of dying mid-batch."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # a second signal: stop waiting for the flush
            raise KeyboardInterrupt
        click.echo("stopping: flushing what was sent (again to abort)...", err=True)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Progress:
    """Prints a progress line at most every PROGRESS_EVERY_SECONDS (to stderr)."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def __call__(self, stats: GenerateStats) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        click.echo(
            f"{stats.total:,} records sent ({stats.invalid:,} invalid) in {stats.elapsed:,.0f} s,"
            f" {stats.rate:,.0f} records/s",
            err=True,
        )


def summary(stats: GenerateStats, config: KafkaConfig) -> str:
    """Records per stream and topic, then the totals and the rate."""
    rows = [
        (name, config.topic_name(get_stream(name).topic), counts.valid, counts.invalid)
        for name, counts in stats.streams.items()
    ]
    rows.append(("total", "", stats.valid, stats.invalid))
    width = max(len(topic) for _, topic, _, _ in rows)
    header = f"{'stream':<18} {'topic':<{width}} {'valid':>10} {'invalid':>8} {'total':>10}"
    lines = [header, "-" * len(header)]
    for name, topic, valid, invalid in rows:
        lines.append(
            f"{name:<18} {topic:<{width}} {valid:>10,} {invalid:>8,} {valid + invalid:>10,}"
        )
    lines.append(
        f"sent {stats.total:,} records in {stats.elapsed:.1f} s ({stats.rate:,.0f} records/s)"
    )
    return "\n".join(lines)
