"""What the `ownlens` commands print: tables (rich), JSON for scripts, data made printable."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Not on a terminal there is no width to follow: a pipe or a CI log gets whole values.
_PIPE_WIDTH = 10_000
_ESCAPED = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co"}
_MIN_FLEXIBLE = 8
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(value: object) -> str:
    """`value` as text with control and format characters escaped (`\\n`, `\\x1b`, `\\u202e`):
    a newline in a record's key cannot forge a row, a terminal escape cannot reach the terminal."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _ESCAPED else ch for ch in text)


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def console(stderr: bool = False) -> Console:
    """A rich console: colour and width follow the terminal; elsewhere plain and unbounded."""
    found = Console(stderr=stderr, highlight=False)
    if found.is_terminal:
        return found
    return Console(stderr=stderr, highlight=False, width=_PIPE_WIDTH, no_color=True)


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: numbers right-aligned; names kept whole; long text (`overflow`) folded
    or cut with an ellipsis when the terminal is too narrow."""

    header: str
    numeric: bool = False
    overflow: Literal["fold", "ellipsis"] | None = None


def print_table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    """The rows as a table on stdout; every cell made printable, never read as markup."""
    cells = [[printable("-" if cell is None else cell) for cell in row] for row in rows]
    out = console()
    whole = [
        max([len(column.header), *(len(row[index]) for row in cells)])
        for index, column in enumerate(columns)
    ]
    widths = _fit(columns, whole, out.width - 3 * (len(columns) - 1))  # padding and rule
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column, width in zip(columns, widths, strict=True):
        table.add_column(
            column.header,
            justify="right" if column.numeric else "left",
            overflow=column.overflow or "fold",
            no_wrap=column.overflow != "fold",
            min_width=width,
            max_width=width,
        )
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    out.print(table)


def _fit(columns: Sequence[Column], whole: list[int], room: int) -> list[int]:
    """Column widths: kept columns whole, the room left shared by the others (the narrowest
    first, none under a few characters)."""
    widths = list(whole)
    flexible = sorted(
        (i for i, column in enumerate(columns) if column.overflow), key=lambda i: whole[i]
    )
    left = room - sum(w for i, w in enumerate(whole) if not columns[i].overflow)
    for count, index in enumerate(flexible):
        share = max(left // (len(flexible) - count), _MIN_FLEXIBLE)
        widths[index] = min(whole[index], share)
        left -= widths[index]
    return widths


def echo_json(data: Any) -> None:
    """`data` as JSON on stdout (non-ASCII and control characters escaped)."""
    click.echo(json.dumps(data, indent=2, sort_keys=False))
