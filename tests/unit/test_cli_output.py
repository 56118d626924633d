"""CLI output: data made printable (no forged rows, no terminal escapes), tables that keep names
whole and cut long text with an ellipsis, JSON that parses."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

import ownlens_kafka.cli_output as output
from ownlens_kafka.cli_output import Column, echo_json, print_table, printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain key-1", "plain key-1"),
        ("two\nlines", "two\\nlines"),
        ("cr\rtab\t", "cr\\rtab\\t"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("bell\x07 del\x7f c1\x9b", "bell\\x07 del\\x7f c1\\x9b"),
        ("bidi \u202e override", "bidi \\u202e override"),
        ("line\u2028separator", "line\\u2028separator"),
        ("café, 東京, emoji 🎉", "café, 東京, emoji 🎉"),
    ],
)
def test_printable_escapes_control_characters_only(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def table_text(
    monkeypatch: pytest.MonkeyPatch, width: int, columns: list[Column], rows: list[list[object]]
) -> list[str]:
    console = Console(width=width, record=True, no_color=True, file=io.StringIO())
    monkeypatch.setattr(output, "console", lambda stderr=False: console)
    print_table(columns, rows)
    return console.export_text().splitlines()


def test_a_newline_in_a_key_does_not_forge_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = table_text(
        monkeypatch,
        200,
        [Column("stream"), Column("key", overflow="fold"), Column("reason", overflow="ellipsis")],
        [["audit_logs", "evil\naudit_logs  forged", "[bold]not markup[/bold] \x1b]0;t\x07"]],
    )
    assert len(lines) == 3  # header, rule, one row
    assert "evil\\naudit_logs  forged" in lines[2]
    assert "[bold]not markup[/bold] \\x1b]0;t\\x07" in lines[2]


def test_a_narrow_terminal_keeps_names_and_numbers_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    topic = "nc.company-internal-content-events"
    lines = table_text(
        monkeypatch,
        80,
        [Column("topic"), Column("offset", numeric=True), Column("reason", overflow="ellipsis")],
        [[topic, 123456789, "why " * 40]],
    )
    assert all(len(line) <= 80 for line in lines)
    assert topic in lines[2] and "123456789" in lines[2]
    assert lines[2].rstrip().endswith("…")


def test_json_output_parses_and_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    echo_json({"key": "a\nb\x1b[31m", "n": 3, "none": None})
    out = capsys.readouterr().out
    assert json.loads(out) == {"key": "a\nb\x1b[31m", "n": 3, "none": None}
    assert "\x1b" not in out and "a\nb" not in out
