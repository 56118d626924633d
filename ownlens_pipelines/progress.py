"""Progress of long work (ingestion, replays), reported to whoever displays it (the CLI)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Listener = Callable[["Progress"], None]


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one task stands: records handled of those expected (None: open-ended)."""

    task: str
    done: int
    total: int | None = None
    rows: int = 0
    dead_lettered: int = 0


_listeners: list[Listener] = []
_lock = threading.Lock()


def report(progress: Progress) -> None:
    """Tell every listener; costs nothing when nobody listens."""
    if not _listeners:
        return
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(progress)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Receive every report made inside the block, from any thread."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)
