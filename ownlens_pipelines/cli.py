"""The `ownlens` command: the Kafka layer's commands plus run, stream and dev."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import click

from ownlens_kafka.cli import cli
from ownlens_kafka.cli_helpers import connection_check, friendly_errors, stream_names, table
from ownlens_kafka.config import get_config
from ownlens_kafka.streams import iter_streams


@cli.command()
@click.option(
    "--publish-quality",
    is_flag=True,
    help="Also publish data-quality metrics to the quality-metrics stream.",
)
@friendly_errors
def run(publish_quality: bool) -> None:
    """One headless pass: ingest every stream to the end offsets seen now, build the domain
    assets, print a summary. Exits non-zero if anything failed."""
    from ownlens_pipelines.headless import run_once

    connection_check(get_config())
    click.echo("ingesting every stream and materializing the domain assets ...", err=True)
    summary = run_once(publish_quality)
    rows = [
        [s.stream, str(s.consumed), str(s.rows_written), str(s.dead_lettered), str(s.lag_after)]
        for s in summary.streams
    ]
    click.echo(table(rows, ["stream", "consumed", "rows written", "dead-lettered", "lag after"]))
    click.echo(
        f"{summary.assets} assets materialized; failed checks: "
        f"{', '.join(summary.failed_checks) or 'none'}"
    )
    if not summary.ok:
        raise click.ClickException("the run did not complete cleanly (see above)")


@cli.command()
@click.argument("streams", nargs=-1, callback=stream_names)
@friendly_errors
def stream(streams: list[str]) -> None:
    """Long-lived consumers writing continuously into the warehouse until Ctrl-C."""
    from ownlens_pipelines.streaming import stream_forever

    connection_check(get_config())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    specs = list(iter_streams(streams))
    click.echo(f"streaming {', '.join(s.name for s in specs)} into the warehouse (Ctrl-C stops)")
    if not os.environ.get("DAGSTER_HOME"):
        click.echo(
            "DAGSTER_HOME is not set: writes are not reported to a Dagster instance", err=True
        )

    def report(name: str, written: int, total: int) -> None:
        click.echo(f"{name}: +{written} rows ({total} in the table)")

    stream_forever(specs, stop, report)


@cli.command()
@click.option("--port", type=int, default=3000, show_default=True, help="Dagster UI port.")
@click.option(
    "--broker-port",
    type=int,
    default=9092,
    show_default=True,
    help="Port of the embedded broker (unused with KAFKA_BOOTSTRAP_SERVERS).",
)
@click.option("--rate", type=float, default=20.0, show_default=True, help="Demo events per second.")
@friendly_errors
def dev(port: int, broker_port: int, rate: float) -> None:
    """Everything for local work: broker, topics, demo traffic and the Dagster UI."""
    from ownlens_pipelines.dev import DevStack

    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        connection_check(get_config())
    stack = DevStack(port=port, broker_port=broker_port, rate=rate, say=click.echo)

    def on_signal(*_: Any) -> None:
        raise KeyboardInterrupt

    # Both handled explicitly: a SIGINT ignored by a parent shell would otherwise be ignored
    # here and, inherited across exec, by every child as well.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        stack.start()
        code = stack.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        click.echo("stopping ...")
        stack.stop()
    raise SystemExit(code)


def main() -> None:
    cli(prog_name="ownlens")
