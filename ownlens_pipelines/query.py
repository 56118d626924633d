"""Queries over the warehouse: DuckDB sessions on the tables' current snapshots, for `ownlens sql`
and notebooks.

    >>> from ownlens_pipelines.query import connect
    >>> db = connect()  # OWNLENS_WAREHOUSE, or .ownlens/lake
    >>> db.sql("SELECT day, events FROM customer.daily_engagement ORDER BY day").df()
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import click
import duckdb

from ownlens_kafka.cli_errors import UserError
from ownlens_kafka.cli_output import Column, print_table
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import Warehouse


def connect(warehouse: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB session with a view per warehouse table (`raw.<stream>`, `<domain>.<name>`),
    each over the snapshot current now; writers go on meanwhile. Close it when done (or use it
    as a context manager); connect again to see newer data."""
    return Warehouse(warehouse or ETLConfig().warehouse).session()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value if value is None or isinstance(value, int | float | str | bool) else str(value)


def write_result(
    connection: duckdb.DuckDBPyConnection, query: str, style: Literal["table", "json", "csv"]
) -> None:
    """Run `query` and print its rows as a table, a JSON array of objects, or CSV."""
    try:
        result = connection.execute(query)
        names = [d[0] for d in result.description or ()]
        rows = result.fetchall()
    except duckdb.Error as exc:
        raise UserError(f"the query failed: {str(exc).splitlines()[0]}") from None
    if style == "json":
        click.echo(json.dumps([dict(zip(names, map(_plain, row), strict=True)) for row in rows]))
    elif style == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_plain(v) for v in row] for row in rows)
    else:
        print_table([Column(name) for name in names], rows)


def interactive(connection: duckdb.DuckDBPyConnection) -> None:
    """A small SQL prompt: statements end with `;`, `.tables` lists the tables, Ctrl-D quits."""
    click.echo("DuckDB over the warehouse snapshot; end statements with ';', .tables, Ctrl-D quits")
    buffer: list[str] = []
    while True:
        try:
            line = input("ownlens> " if not buffer else "    ...> ")
        except EOFError:
            click.echo()
            return
        if not buffer and line.strip() == ".tables":
            line = (
                "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables "
                "WHERE table_schema <> 'main' ORDER BY 1;"
            )
        buffer.append(line)
        if line.rstrip().endswith(";"):
            statement, buffer = "\n".join(buffer), []
            try:
                write_result(connection, statement, "table")
            except UserError as exc:
                click.echo(str(exc), err=True)
