"""Progress of the long `ownlens` commands: live bars on a terminal, a plain line per task now and
then in a log (CI), nothing with `--quiet`. Reports may come from any thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ownlens_kafka.cli_output import printable

LINE_EVERY_SECONDS = 10.0


@dataclass(slots=True)
class _State:
    """What the plain-lines mode knows of one task."""

    done: int
    total: int | None
    dead_lettered: int
    first_at: float
    first_done: int
    printed_at: float = field(default=0.0)
    finished: bool = False


class _Counts(ProgressColumn):
    def render(self, task: Task) -> Text:
        if task.fields.get("note"):
            return Text("")
        done = int(task.completed)
        text = f"{done:,}/{int(task.total):,}" if task.total is not None else f"{done:,}"
        return Text(f"{text} {task.fields.get('unit', '')}".rstrip(), style="progress.download")


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if task.fields.get("note") or not speed:
            return Text("")
        return Text(f"{speed:,.0f}/s", style="progress.data.speed")


class _Left(ProgressColumn):
    """Records still to go (lag left) and those dead-lettered so far."""

    def render(self, task: Task) -> Text:
        parts = []
        if task.total is not None and not task.fields.get("note"):
            parts.append(f"{max(int(task.total - task.completed), 0):,} left")
        dead = int(task.fields.get("dead_lettered", 0))
        if dead:
            parts.append(f"{dead:,} dead-lettered")
        return Text(", ".join(parts), style="progress.remaining")


class _Bar(BarColumn):
    def render(self, task: Task) -> Text:  # type: ignore[override]
        if task.fields.get("note"):
            return Text("")
        return super().render(task)  # type: ignore[return-value]


class _Eta(TimeRemainingColumn):
    def render(self, task: Task) -> Text:
        if task.fields.get("note") or task.total is None:
            return Text("")
        return super().render(task)


class ProgressView:
    """Per-task progress (records done of a total, rate, left, ETA): use it as a context
    manager and call `update` from any thread. In a log, a task gets a line every `every`
    seconds (with `eager`, its first report at once too)."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        unit: str = "records",
        every: float | None = None,
        eager: bool = False,
        console: Console | None = None,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.mode = "off" if quiet else ("live" if self.console.is_interactive else "lines")
        self.unit = unit
        self.every = LINE_EVERY_SECONDS if every is None else every
        self.eager = eager  # long-lived work: a task's first report is a line at once
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}
        self._tasks: dict[str, TaskID] = {}
        self._live: Progress | None = None
        self._started = time.monotonic()
        if self.mode == "live":
            self._live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                _Bar(bar_width=30),
                _Counts(),
                _Rate(),
                _Left(),
                _Eta(compact=True),
                console=self.console,
                transient=True,
                speed_estimate_period=10.0,
            )

    @property
    def live(self) -> bool:
        """Whether bars are drawn (a terminal): worth reporting every detail to."""
        return self.mode == "live"

    def __enter__(self) -> ProgressView:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def note(self, message: str) -> None:
        """What is happening, for work that reports no counts: a spinner, or one line."""
        if self.mode == "off":
            return
        if self._live is not None:
            with self._lock:
                if message not in self._tasks:
                    self._tasks[message] = self._live.add_task(
                        printable(message), total=None, note=True
                    )
            return
        click.echo(printable(message), err=True)

    def done(self, message: str) -> None:
        """The noted work is over: its spinner goes."""
        with self._lock:
            task = self._tasks.pop(message, None)
        if task is not None and self._live is not None:
            self._live.remove_task(task)

    def update(
        self, task: str, done: int, total: int | None = None, *, dead_lettered: int = 0
    ) -> None:
        """Where `task` stands: `done` of `total` (None: open-ended)."""
        if self.mode == "off":
            return
        if self._live is not None:
            with self._lock:
                known = self._tasks.get(task)
                if known is None:
                    known = self._tasks[task] = self._live.add_task(
                        printable(task), total=total, unit=self.unit
                    )
            self._live.update(known, completed=done, total=total, dead_lettered=dead_lettered)
            return
        with self._lock:
            line = self._note_line(task, done, total, dead_lettered)
        if line is not None:
            click.echo(line, err=True)

    def _note_line(self, task: str, done: int, total: int | None, dead: int) -> str | None:
        """The line to print for this report, if one is due: every `every` seconds (none for
        work that ends sooner), and a last one when a task that had lines finishes."""
        now = time.monotonic()
        state = self._states.get(task)
        if state is None:
            state = self._states[task] = _State(done, total, dead, now, done)
        state.done, state.total, state.dead_lettered = done, total, dead
        finished = total is not None and done >= total
        since = state.printed_at or (0.0 if self.eager else self._started)
        due = now - since >= self.every
        closing = finished and not state.finished and state.printed_at > 0
        if not (due or closing):
            return None
        state.printed_at, state.finished = now, finished
        return self._line(task, state, now)

    def _line(self, task: str, state: _State, now: float) -> str:
        unit = self.unit
        head = f"{printable(task)}: {state.done:,}"
        if state.total:
            head += f" of {state.total:,} {unit} ({100 * state.done / state.total:.0f}%)"
        else:
            head += f" {unit}"
        parts = [head]
        elapsed = now - state.first_at
        rate = (state.done - state.first_done) / elapsed if elapsed > 0 else 0.0
        if rate > 0:
            parts.append(f"{rate:,.0f}/s")
        if state.total is not None:
            left = max(state.total - state.done, 0)
            parts.append(f"{left:,} left")
            if left and rate > 0:
                parts.append(f"ETA {_duration(left / rate)}")
        if state.dead_lettered:
            parts.append(f"{state.dead_lettered:,} dead-lettered")
        return ", ".join(parts)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
