"""The progress display, fed with reports made here (as the extractor makes them): bars on a
terminal, periodic lines in a log, nothing when quiet; reports from any thread."""

from __future__ import annotations

import io
import re
import threading

import pytest
from rich.console import Console

from ownlens_kafka.cli_progress import ProgressView
from ownlens_pipelines.progress import Progress, listening, report

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, force_interactive=True, width=120), out


def feed(view: ProgressView, threads: int = 3, reports: int = 20) -> None:
    """Reports for one stream per thread, as concurrent extractors would make them."""

    def extract(name: str) -> None:
        for done in range(1, reports + 1):
            report(Progress(name, done * 100, reports * 100, done * 98, done * 2))

    def show(progress: Progress) -> None:
        view.update(
            progress.task, progress.done, progress.total, dead_lettered=progress.dead_lettered
        )

    with listening(show):
        workers = [threading.Thread(target=extract, args=(f"s{i}",)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()


def test_a_terminal_gets_a_bar_per_task() -> None:
    console, out = terminal()
    with ProgressView(console=console) as view:
        assert view.live
        feed(view)
    text = ANSI.sub("", out.getvalue())
    for name in ("s0", "s1", "s2"):
        assert re.search(rf"{name} +━+ +2,000/2,000 records", text), text
    assert "40 dead-lettered" in text


def test_a_log_gets_plain_lines_and_quiet_gets_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = Console(file=io.StringIO(), force_terminal=False)
    with ProgressView(console=log, every=0) as view:
        assert not view.live
        feed(view, threads=1, reports=3)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("s0: 100 of 300 records (33%)")
    assert lines[-1].startswith("s0: 300 of 300 records (100%)")
    assert "0 left" in lines[-1] and "6 dead-lettered" in lines[-1]
    assert not any("\x1b" in line for line in lines)
    console, out = terminal()
    with ProgressView(console=console, quiet=True) as view:
        feed(view)
        view.note("working")
    assert out.getvalue() == "" and capsys.readouterr().err == ""


def test_a_log_gets_no_line_for_work_shorter_than_the_period(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with ProgressView(console=Console(file=io.StringIO()), every=3600) as view:
        feed(view, threads=2)
    assert capsys.readouterr().err == ""


def test_task_names_are_not_markup_or_escapes() -> None:
    console, out = terminal()
    with ProgressView(console=console) as view:
        view.update("[bold]x[/bold]\x1b[2J", 1, 2)
    assert "[bold]x[/bold]\\x1b[2J" in ANSI.sub("", out.getvalue())
