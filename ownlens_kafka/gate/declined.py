"""The gate's only verdict besides acceptance: it declines, and pydantic decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], Any]  # raises _Declined (or anything) when the value cannot pass


class _Declined(Exception):
    """The gate cannot accept the record: pydantic decides."""


def _decline(_value: Any = None) -> Any:
    raise _Declined
