"""Cyclic GC paused around bulk work on acyclic objects."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block. Events and messages hold no reference cycles
    (reference counting frees them), yet the collections their numbers trigger cost about a
    third of a bulk validate-and-convert pass."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
