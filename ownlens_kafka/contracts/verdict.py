"""Verdicts of the breaking-change gate: each stream's model now against its committed contract.

A breaking change passes only with a `schema_version` bump of the model and the contract
exported again at that version; without the bump, or without the export, the stream fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ownlens_kafka.contracts.compat import Breach, Rule, breaking_changes
from ownlens_kafka.contracts.files import EXPORT_COMMAND
from ownlens_kafka.contracts.stream_schema import schema_version, stream_schema
from ownlens_kafka.streams import STREAMS, StreamSpec

Schema = dict[str, Any]


class Status(StrEnum):
    OK = "ok"
    ACCEPTED = "accepted"
    BREAKING = "BREAKING"
    NOT_EXPORTED = "NOT EXPORTED"


FAILING = {Status.BREAKING, Status.NOT_EXPORTED}


@dataclass(frozen=True, slots=True)
class Verdict:
    """One stream's outcome, the breaking changes found and what to do about them."""

    stream: str
    status: Status
    breaches: list[Breach] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in FAILING


def check_streams(
    baseline: Mapping[str, Schema],
    exported: Mapping[str, Schema],
    specs: Iterable[StreamSpec] = STREAMS,
) -> list[Verdict]:
    """`baseline`: the contracts to stay compatible with (the committed files, or those of a
    git revision); `exported`: the files in the schemas directory now."""
    specs = list(specs)
    verdicts = [_verdict(spec, baseline.get(spec.name), exported.get(spec.name)) for spec in specs]
    current = {spec.name for spec in specs}
    for stream in sorted(set(baseline) - current):
        removed = Breach("kafka", Rule.STREAM_REMOVED, "no longer in the stream table")
        verdicts.append(Verdict(stream, Status.BREAKING, [removed]))
    return verdicts


def _verdict(spec: StreamSpec, committed: Schema | None, exported: Schema | None) -> Verdict:
    now = stream_schema(spec)
    stale = exported != now
    export_note = f"schemas not exported since the model changed; run: {EXPORT_COMMAND}"
    if committed is None:
        note = "new stream" + (f"; not exported yet, run: {EXPORT_COMMAND}" if stale else "")
        return Verdict(spec.name, Status.OK, notes=[note])
    model = spec.model.__name__
    before, after = schema_version(committed), spec.model.schema_version
    breaches = breaking_changes(committed, now)
    if after < before:
        note = f"{model}.schema_version went down: {before} -> {after}"
        return Verdict(spec.name, Status.BREAKING, breaches, [note])
    if not breaches:
        notes = [export_note] if stale else []
        return Verdict(spec.name, Status.OK, notes=notes)
    if after == before:
        note = f"to accept: bump {model}.schema_version to {before + 1} and run: {EXPORT_COMMAND}"
        return Verdict(spec.name, Status.BREAKING, breaches, [note])
    bump = f"version bump {before} -> {after}"
    if stale:
        note = f"{bump}, but the schema is not exported at version {after}; run: {EXPORT_COMMAND}"
        return Verdict(spec.name, Status.NOT_EXPORTED, breaches, [note])
    return Verdict(spec.name, Status.ACCEPTED, breaches, [bump])


def report(verdicts: list[Verdict], against: str) -> str:
    """Plain text: one line per stream, its breaches and notes indented below."""
    lines = [f"schema check: the models against {against} ({len(verdicts)} streams)"]
    for verdict in verdicts:
        head = f"{verdict.status:<12} {verdict.stream}"
        if verdict.status is Status.ACCEPTED:
            head += f": accepted: {verdict.notes[0]}"
        lines.append(head)
        lines += [f"  - {breach}" for breach in verdict.breaches]
        if verdict.status is not Status.ACCEPTED:
            lines += [f"  {note}" for note in verdict.notes]
    failed = [v.stream for v in verdicts if v.failed]
    if failed:
        names = ", ".join(failed)
        lines.append(f"FAILED: {len(failed)} stream(s) break readers or writers: {names}")
    else:
        lines.append("passed: no unaccepted breaking change")
    return "\n".join(lines)
