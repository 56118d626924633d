"""`ownlens schema export|check`: the stream contracts and the breaking-change gate."""

from __future__ import annotations

from pathlib import Path

import click

from ownlens_kafka.contracts.files import DEFAULT_DIR, export, read_schemas, read_schemas_at
from ownlens_kafka.contracts.verdict import check_streams, report

_DIRECTORY = click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DIR
)


@click.group()
def schema() -> None:
    """Stream contracts (JSON Schema, AsyncAPI) and the breaking-change gate."""


@schema.command("export")
@_DIRECTORY
def schema_export(directory: Path) -> None:
    """Write every stream's JSON Schema and one AsyncAPI document into DIRECTORY."""
    changed, removed = export(directory)
    click.echo(f"{directory}/: {len(changed)} file(s) written, {len(removed)} removed")
    for name in changed:
        click.echo(f"  wrote {directory / name}")
    for name in removed:
        click.echo(f"  removed {directory / name}")


@schema.command("check")
@_DIRECTORY
@click.option(
    "--against",
    metavar="REVISION",
    help="Compare with the schemas as committed in this git revision (CI: the merge base) "
    "instead of the files in DIRECTORY.",
)
def schema_check(directory: Path, against: str | None) -> None:
    """Fail (exit 1) on a model change that breaks a reader or writer of the committed schemas,
    unless the model's schema_version was bumped and the schemas exported again."""
    if not directory.is_dir():
        raise click.ClickException(f"no {directory}/ here; create it with: ownlens schema export")
    exported = read_schemas(directory)
    try:
        baseline = read_schemas_at(against, directory) if against else exported
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    verdicts = check_streams(baseline, exported)
    click.echo(report(verdicts, f"{directory}/ at {against}" if against else f"{directory}/"))
    if any(verdict.failed for verdict in verdicts):
        raise SystemExit(1)
