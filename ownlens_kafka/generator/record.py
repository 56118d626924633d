"""One record for a stream, valid or not."""

from __future__ import annotations

from typing import NamedTuple

from ownlens_kafka.generator.sim import Payload


class Record(NamedTuple):
    """One record for a stream: a valid event payload, or bytes that are not a valid event."""

    stream: str
    payload: Payload | None = None
    value: bytes | None = None
    key: str | None = None
    flaw: str | None = None

    @property
    def valid(self) -> bool:
        return self.payload is not None
