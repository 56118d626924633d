"""Cyclic GC paused around bulk work on acyclic objects."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_pauses = 0  # blocks inside a pause, across threads
_was_enabled = False


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block. Events and messages hold no reference cycles
    (reference counting frees them), yet the collections their numbers trigger cost about a
    third of a bulk validate-and-convert pass. Blocks may overlap across threads: collection
    resumes when the last one ends."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
