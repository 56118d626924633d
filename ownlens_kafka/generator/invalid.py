"""Invalid records: a valid payload spoiled by one of several flaws."""

from __future__ import annotations

import random
from collections.abc import Callable

from pydantic_core import to_json

from ownlens_kafka.generator.record import Record
from ownlens_kafka.generator.sim import Payload, between, pick
from ownlens_kafka.streams import StreamSpec, get_stream


def _key(spec: StreamSpec, payload: Payload) -> str:
    return "_".join(str(payload.get(name)) for name in spec.key_fields)


def _truncated(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    data = to_json(payload)
    return data[: rng.randrange(1, len(data) - 1)]


def _garbage(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return rng.randbytes(between(rng, 8, 64))


def _python_repr(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return repr(payload).encode()


def _csv_line(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return ",".join(str(value) for value in payload.values()).encode()


def _missing_field(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    required = [n for n, f in spec.model.model_fields.items() if f.is_required()]
    dropped = pick(rng, required)
    return to_json({k: v for k, v in payload.items() if k != dropped})


def _bad_uuid(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    field_name = pick(rng, ("company_id", "brand_id"))
    return to_json(payload | {field_name: f"{field_name[:-3]}-{between(rng, 1, 999)}"})


def _unknown_field(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return to_json(payload | {"legacy_tracking_code": between(rng, 1, 10**6)})


def _wrong_type(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return to_json(payload | {"metadata": ["not", "an", "object"]})


def _not_an_object(spec: StreamSpec, payload: Payload, rng: random.Random) -> bytes:
    return to_json([payload])


# name -> how to spoil a valid payload; the first four are not JSON, the rest break the schema
FLAWS: dict[str, Callable[[StreamSpec, Payload, random.Random], bytes]] = {
    "truncated": _truncated,
    "garbage": _garbage,
    "python_repr": _python_repr,
    "csv_line": _csv_line,
    "missing_field": _missing_field,
    "bad_uuid": _bad_uuid,
    "unknown_field": _unknown_field,
    "wrong_type": _wrong_type,
    "not_an_object": _not_an_object,
}
_FLAW_NAMES = tuple(FLAWS)


def spoil(record: Record, rng: random.Random) -> Record:
    """An invalid record for the stream of `record`, made from its (valid) payload."""
    assert record.payload is not None
    spec = get_stream(record.stream)
    flaw = pick(rng, _FLAW_NAMES)
    value = FLAWS[flaw](spec, record.payload, rng)
    return Record(record.stream, value=value, key=_key(spec, record.payload), flaw=flaw)
