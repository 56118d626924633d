"""The fast validation gate: a judge derived from a model that keeps no object per record.

`gate_for(model)(value)` returns the record as complete canonical JSON (every field, defaults and
derived dates filled as pydantic fills them) when it can tell cheaply that pydantic accepts it,
else None: the caller then runs `model.model_validate_json(value)`, the one judge, which also
gives a dead letter its reason. The gate never accepts what pydantic rejects; it may send a
valid record to pydantic.

How: `derive` turns the model's pydantic-core schema (the schema pydantic runs) into a
`msgspec.Struct` with the same types and bounds; `record_check` generates one function for what
msgspec cannot express (the canonical forms of `canonical`, patterns through pydantic-core
itself, the declared rules of `ownlens_kafka.models._types`); `msgspec.json.encode` writes the JSON.

Taken only in canonical form (anything else goes to pydantic): lowercase hyphenated UUIDs,
timestamps `YYYY-MM-DDTHH:MM:SS[.ffffff]` with `Z` or `+00:00` (kept as text: their UTC date is
their first ten characters), `YYYY-MM-DD` dates, JSON ints for ints, true/false for bools,
values already upper-cased or canonical (IP addresses), free-form integers within int64. A rule
the derivation does not know sends every record with that field present (and not null) to
pydantic; so does a missing field whose default is random or the time (uuid4, utc_now).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, cast

import msgspec

from ownlens_kafka.gate.declined import Check, _decline, _Declined
from ownlens_kafka.gate.derive import _CONFIG_KEYS, Schema, _Deriver, _only
from ownlens_kafka.gate.record_check import _compile, _Plan, _plan_field
from ownlens_kafka.models._base import EventModel
from ownlens_kafka.models._types import FreeDictBounds

__all__ = ["Gate", "gate_for"]

# Re-encoded free-form JSON is at most 8x its raw bytes (a 3-byte float such as 1e9 becomes at
# most 24 bytes; strings, ints and structure never grow), so small records need no size check.
_SIZE_FACTOR = 8


class Gate:
    """`gate(value)`: canonical JSON of the record, or None to let pydantic decide."""

    def __init__(self, model: type[EventModel]) -> None:
        self.model = model
        self.unknown: tuple[str, ...] = ()  # fields taken only when absent or null
        self.reason = ""  # why every record goes to pydantic, if it does
        self.check: Check = _decline
        self._sized: tuple[tuple[str, FreeDictBounds], ...] = ()
        self._raw_limit = 0
        self._decode: Callable[[bytes], Any] = _decline
        self._encode: Callable[[Any], bytes] = msgspec.json.Encoder().encode
        try:
            self._derive()
        except Exception as exc:  # a schema the derivation cannot read: pydantic for all
            self.reason = f"{type(exc).__name__}: {exc}"
            self._decode = _decline

    @property
    def fast(self) -> bool:
        """Whether any record can pass the gate."""
        return not self.reason

    def __call__(self, value: bytes) -> bytes | None:
        try:
            record = self._decode(value)
            self.check(record)
            if len(value) > self._raw_limit:
                self._check_sizes(record)
            return self._encode(record)
        except Exception:  # _Declined, msgspec errors, anything: pydantic gives the reason
            return None

    def _check_sizes(self, record: Any) -> None:
        for name, bounds in self._sized:
            value = getattr(record, name)
            for item in value if isinstance(value, list) else (value,):
                if item is not None and bounds.problem(item) is not None:
                    raise _Declined

    def _derive(self) -> None:
        schema = cast(Schema, self.model.__pydantic_core_schema__)
        if schema.get("type") != "model" or not _only(
            schema, "cls", "schema", "config", "ref", "custom_init", "root_model"
        ):
            raise TypeError("the model schema has wrappers (model validators, serializers)")
        if schema.get("custom_init") or schema.get("root_model"):
            raise TypeError("custom __init__ or root model")
        config = schema.get("config", {})
        if not set(config) <= _CONFIG_KEYS or config.get("extra_fields_behavior") == "allow":
            raise TypeError(f"model config {sorted(set(config) - _CONFIG_KEYS)}")
        fields_schema = schema["schema"]
        if fields_schema.get("type") != "model-fields" or fields_schema.get("computed_fields"):
            raise TypeError("computed fields")
        if not _only(fields_schema, "fields", "model_name", "computed_fields"):
            raise TypeError(f"model fields {sorted(fields_schema)}")
        plan = _Plan()
        deriver = _Deriver(config)
        for name, spec in fields_schema["fields"].items():
            if not _only(spec, "schema") or not name.isidentifier():
                raise TypeError(f"field {name!r}: {sorted(spec)} (aliases, exclusion)")
            _plan_field(plan, deriver, name, spec["schema"])
        struct = msgspec.defstruct(
            f"{self.model.__name__}Gate",
            plan.struct_fields,
            kw_only=True,
            forbid_unknown_fields=config.get("extra_fields_behavior") == "forbid",
            gc=False,  # flat records: no reference cycles to collect
        )
        self._decode = msgspec.json.Decoder(struct, strict=True).decode
        self.check = _compile(plan)
        self._sized = tuple(plan.sized)
        limits = [bounds.max_bytes for _, bounds in plan.sized]
        self._raw_limit = min(limits) // _SIZE_FACTOR if limits else 2**62
        self.unknown = tuple(plan.unknown)


@cache
def gate_for(model: type[EventModel]) -> Gate:
    """The model's gate (built once per model)."""
    return Gate(model)
