"""The `ownlens` command: the Kafka layer's commands plus run, stream and dev."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import click

from ownlens_kafka.cli import cli
from ownlens_kafka.cli_errors import NO_SPACE, UserError
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
from ownlens_kafka.config import read_settings
from ownlens_kafka.positions import Position
from ownlens_kafka.streams import iter_streams
from ownlens_pipelines.progress import Progress, listening
from ownlens_pipelines.settings import ETLConfig


def shown_on(view: ProgressView) -> Callable[[Progress], None]:
    """A progress listener drawing on `view`."""

    def show(progress: Progress) -> None:
        view.update(
            progress.task, progress.done, progress.total, dead_lettered=progress.dead_lettered
        )

    return show


def etl_settings() -> ETLConfig:
    """The checked `KAFKA_*` and `OWNLENS_*` settings of a command that commits offsets (an
    in-memory warehouse, among other bad values, is refused with one line)."""
    cli_config()
    return read_settings(ETLConfig)


@cli.command()
@click.option(
    "--publish-quality",
    is_flag=True,
    help="Also publish data-quality metrics to the quality-metrics stream.",
)
@click.option(
    "--full-rebuild",
    is_flag=True,
    help="Rebuild the domain tables from every raw row instead of only what changed.",
)
@json_option
@quiet_option
def run(publish_quality: bool, full_rebuild: bool, as_json: bool, quiet: bool) -> None:
    """One headless pass: ingest every stream to the end offsets seen now, build the domain
    assets, print a summary. Exits 1 if anything failed.

    It uses the same warehouse and consumer groups as `make run` (what one ingests the other
    does not ingest again); its runs show in the Dagster UI only with DAGSTER_HOME set."""
    from ownlens_pipelines.headless import run_once

    settings = etl_settings()
    connection_check(settings.kafka)

    with ProgressView(quiet=quiet) as view:
        activity = "ingesting every stream, then materializing the domain assets"
        view.note(activity)
        with listening(shown_on(view)):
            summary = run_once(publish_quality, full_rebuild)
        view.done(activity)
    if as_json:
        echo_json(
            {
                "ok": summary.ok,
                "success": summary.success,
                "assets": summary.assets,
                "failed_checks": summary.failed_checks,
                "failures": summary.failures,
                "streams": [dataclasses.asdict(s) for s in summary.streams],
            }
        )
    else:
        print_table(
            [
                Column("stream"),
                *(
                    Column(name, numeric=True)
                    for name in ("consumed", "rows written", "dead-lettered", "lag after")
                ),
            ],
            [
                [s.stream, s.consumed, s.rows_written, s.dead_lettered, s.lag_after]
                for s in summary.streams
            ],
        )
        click.echo(
            f"{summary.assets} assets materialized; failed checks: "
            f"{', '.join(summary.failed_checks) or 'none'}"
        )
        for failure in summary.failures:
            click.echo(f"failed: {printable(failure)}", err=True)
    if not summary.ok:
        full = next((f for f in summary.failures if NO_SPACE in f), None)
        raise UserError(
            f"the disk is full: {full}" if full else "the run did not complete cleanly (see above)"
        )


@cli.command(epilog=STREAMS_HELP)
@streams_argument
@quiet_option
def stream(streams: tuple[str, ...], quiet: bool) -> None:
    """Long-lived consumers writing continuously into the warehouse until Ctrl-C (all streams
    by default)."""
    from ownlens_pipelines.streaming import stream_forever

    settings = etl_settings()
    connection_check(settings.kafka)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    specs = list(iter_streams(list(streams)))
    if not os.environ.get("DAGSTER_HOME"):
        click.echo(
            "DAGSTER_HOME is not set: writes are not reported to a Dagster instance", err=True
        )
    with ProgressView(quiet=quiet, unit="rows", eager=True) as view:
        view.note(f"streaming {', '.join(s.name for s in specs)} into the warehouse (Ctrl-C stops)")
        written: dict[str, int] = {}

        def report(name: str, rows: int, total: int) -> None:
            written[name] = written.get(name, 0) + rows
            view.update(name, written[name])

        stream_forever(specs, stop, report)


class PositionType(click.ParamType[Position]):
    """An offset or an ISO 8601 time."""

    name = "OFFSET|TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Position:
        if isinstance(value, Position):
            return value
        try:
            return Position.parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@cli.command(epilog=STREAMS_HELP)
@click.argument("stream", type=STREAM)
@click.option(
    "--from",
    "start",
    type=PositionType(),
    required=True,
    help="First offset (on every partition) or ISO 8601 time, e.g. 2026-12-01T08:00:00Z.",
)
@click.option(
    "--to",
    "end",
    type=PositionType(),
    default=None,
    help="Offset or time to stop before (default: the end offsets now).",
)
@json_option
@quiet_option
def reprocess(
    stream: str, start: Position, end: Position | None, as_json: bool, quiet: bool
) -> None:
    """Read a range of STREAM again into its raw table, under a throwaway consumer group: the
    live group's offsets never move, no row is written twice, and records invalid under the
    current model are dead-lettered (once)."""
    from ownlens_kafka.streams import get_stream
    from ownlens_pipelines.reprocess import reprocess as read_again

    settings = etl_settings()
    connection_check(settings.kafka)
    with ProgressView(quiet=quiet) as view, listening(shown_on(view)):
        result = read_again(get_stream(stream), settings, start, end)
    summary = {
        "stream": stream,
        "records": result.lag_before,
        "rows_written": result.rows_written,
        "dead_lettered": result.dead_lettered,
        "range": {str(p): list(r) for p, r in sorted(result.offsets.items())},
        "rows_in_table": result.rows_total,
        "complete": result.caught_up,
    }
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"{stream}: {result.rows_written:,} rows written, {result.dead_lettered:,} "
            f"dead-lettered of {result.lag_before:,} records in the range; "
            f"{result.rows_total:,} rows in raw.{stream}"
        )
    if not result.caught_up:
        raise UserError(f"{stream}: the range was not read to its end (see above)")


@cli.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=3000,
    show_default=True,
    help="Dagster UI port.",
)
@click.option(
    "--broker-port",
    type=click.IntRange(1, 65535),
    default=9092,
    show_default=True,
    help="Port of the embedded broker (unused with KAFKA_BOOTSTRAP_SERVERS).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="Demo events per second.",
)
@click.option(
    "--invalid-ratio",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of demo records that are malformed (they land in the dead-letter topics).",
)
def dev(port: int, broker_port: int, rate: float, invalid_ratio: float) -> None:
    """Everything for local work: broker, topics, demo traffic and the Dagster UI."""
    from ownlens_pipelines.dev import DevStack

    settings = etl_settings()
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        connection_check(settings.kafka)
    stack = DevStack(
        port=port,
        broker_port=broker_port,
        rate=rate,
        invalid_ratio=invalid_ratio,
        say=click.echo,
    )

    raise SystemExit(stack.run())


@cli.command()
@click.argument("query", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON array.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV with a header.")
def sql(query: str | None, as_json: bool, as_csv: bool) -> None:
    """Query the warehouse with DuckDB: a view per table over its current snapshot
    (`raw.user_events`, `customer.daily_engagement`, ...). Interactive without QUERY. Never
    waits for writers, never blocks them."""
    from ownlens_pipelines.query import connect, interactive, write_result

    if as_json and as_csv:
        raise UserError("choose one of --json and --csv")
    settings = read_settings(ETLConfig)
    with connect(settings.warehouse) as connection:
        if query is None:
            interactive(connection)
            return
        write_result(connection, query, "json" if as_json else "csv" if as_csv else "table")


def main() -> None:
    cli(prog_name="ownlens")
