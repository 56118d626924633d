"""Which differences between two contracts break a reader or a writer.

The principle: every event valid under the committed schema must still be valid under the
model (a narrowed type, bound, pattern or value set rejects it; a new required field rejects
it), every field a reader reads must still be there, and it must travel where it did (topic, key,
group, dead-letter topic). Widening passes: a new optional field, a looser bound, a new value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ownlens_kafka.contracts.stream_schema import KAFKA

Schema = dict[str, Any]


class Rule(StrEnum):
    """The kinds of breaking change the gate names."""

    REMOVED_FIELD = "removed-field"
    NEW_REQUIRED_FIELD = "new-required-field"
    TYPE_CHANGED = "type-changed"
    NULLABLE_REMOVED = "nullable-removed"
    BOUND_NARROWED = "bound-narrowed"
    PATTERN_CHANGED = "pattern-changed"
    FORMAT_CHANGED = "format-changed"
    VALUE_REMOVED = "enum-value-removed"
    TOPIC_CHANGED = "topic-changed"
    DEAD_LETTER_TOPIC_CHANGED = "dead-letter-topic-changed"
    GROUP_CHANGED = "consumer-group-changed"
    KEY_CHANGED = "key-changed"
    STREAM_REMOVED = "stream-removed"


@dataclass(frozen=True, slots=True)
class Breach:
    """One breaking change: where (a field path, or `kafka`), which rule, what exactly."""

    where: str
    rule: Rule
    detail: str

    def __str__(self) -> str:
        return f"{self.where or 'the event'}: {self.rule}: {self.detail}"


# Kafka placement: x-kafka key -> rule (values compared as a whole).
_PLACEMENT = {
    "topic": Rule.TOPIC_CHANGED,
    "dead_letter_topic": Rule.DEAD_LETTER_TOPIC_CHANGED,
    "consumer_group": Rule.GROUP_CHANGED,
}
# Upper and lower bounds by keyword: a smaller upper or a larger lower bound narrows.
_UPPER = ("maxLength", "maxItems", "maxProperties")
_LOWER = ("minLength", "minItems", "minProperties")
_MAXIMA = ("maximum", "exclusiveMaximum")
_MINIMA = ("minimum", "exclusiveMinimum")
_ACCEPTS = {"number": {"number", "integer"}}  # what values of each JSON type a reader takes


def breaking_changes(old: Schema, new: Schema) -> list[Breach]:
    """What in `new` (the model now) breaks readers or writers of `old` (the committed one)."""
    return [
        *_placement(old.get(KAFKA, {}), new.get(KAFKA, {})),
        *_Walk(old, new).value(old, new, ""),
    ]


def _placement(old: Schema, new: Schema) -> list[Breach]:
    breaches = [
        Breach("kafka", rule, f"{old.get(key)!r} -> {new.get(key)!r}")
        for key, rule in _PLACEMENT.items()
        if old.get(key) != new.get(key)
    ]
    old_key, new_key = _key_fields(old), _key_fields(new)
    if old_key != new_key:
        breaches.append(Breach("kafka", Rule.KEY_CHANGED, f"{old_key} -> {new_key}"))
    return breaches


def _key_fields(kafka: Schema) -> list[str]:
    fields: list[str] = kafka.get("key", {}).get("x-fields", [])
    return fields


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Walk:
    """Compares two schemas node by node, resolving each side's `$ref`s in its own document."""

    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.roots = (old_root, new_root)
        self.seen: set[tuple[str, str]] = set()

    def resolve(self, schema: Schema, side: int) -> Schema:
        while "$ref" in schema:
            node: Any = self.roots[side]
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged |= self.resolve(part, side)
            schema = merged
        return schema

    def alternatives(self, schema: Schema, side: int) -> list[Schema]:
        """The schema as a list of single-type branches (anyOf/oneOf and type lists split)."""
        schema = self.resolve(schema, side)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            return [alt for b in branches for alt in self.alternatives({**rest, **b}, side)]
        kind = schema.get("type")
        if isinstance(kind, list):
            return [{**schema, "type": one} for one in kind]
        return [schema]

    def object(self, old: Schema, new: Schema, path: str = "") -> list[Breach]:
        """Fields removed, fields now required, and each kept field compared."""
        breaches = []
        old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        added = [name for name in new_fields if name not in old_fields]
        for name in old_fields:
            if name not in new_fields:
                twins = [a for a in added if self.same(old_fields[name], new_fields[a])]
                hint = f" (renamed to {', '.join(twins)}?)" if twins else ""
                breaches.append(
                    Breach(f"{path}{name}", Rule.REMOVED_FIELD, f"no longer in the model{hint}")
                )
        for name in sorted(new_required - old_required):
            was = "a new field" if name not in old_fields else "was optional"
            breaches.append(
                Breach(f"{path}{name}", Rule.NEW_REQUIRED_FIELD, f"required, no default ({was})")
            )
        for name, old_field in old_fields.items():
            if name in new_fields:
                breaches += self.value(old_field, new_fields[name], f"{path}{name}")
        return breaches

    def same(self, old: Schema, new: Schema) -> bool:
        return not self.value(old, new, "") and not _Walk(new, old).value(new, old, "")

    def value(self, old: Schema, new: Schema, path: str) -> list[Breach]:
        """Breaches of one value: each old branch must be taken by some new branch."""
        refs = (old.get("$ref", ""), new.get("$ref", ""))
        if refs[0] and refs[1]:
            if refs in self.seen:  # recursive models: compared once
                return []
            self.seen.add(refs)
        breaches: list[Breach] = []
        new_branches = self.alternatives(new, 1)
        for branch in self.alternatives(old, 0):
            kind = _kind(branch)
            takers = [n for n in new_branches if _takes(_kind(n), kind)]
            if not takers:
                breaches.append(_type_breach(path, kind, [_kind(n) for n in new_branches]))
                continue
            # the closest new branch decides (the one with fewest breaches)
            options = [self.branch(branch, n, path) for n in takers]
            closest: list[Breach] = min(options, key=len)
            breaches += closest
        return breaches

    def branch(self, old: Schema, new: Schema, path: str) -> list[Breach]:
        breaches = _values(old, new, path) + _bounds(old, new, path)
        for keyword, rule in (("pattern", Rule.PATTERN_CHANGED), ("format", Rule.FORMAT_CHANGED)):
            if keyword in new and new[keyword] != old.get(keyword):
                detail = f"{_show(old.get(keyword))} -> {_show(new[keyword])}"
                breaches.append(Breach(path, rule, detail))
        if "items" in new:
            breaches += self.value(old.get("items", {}), new["items"], f"{path}[]")
        if "propertyNames" in new:
            old_names = old.get("propertyNames", {})
            breaches += self.value(old_names, new["propertyNames"], f"{path}{{key}}")
        breaches += self.extra(old, new, path)
        if "properties" in new or "properties" in old:
            breaches += self.object(old, new, f"{path}." if path else "")
        return breaches

    def extra(self, old: Schema, new: Schema, path: str) -> list[Breach]:
        """additionalProperties: allowed before, forbidden or narrowed now."""
        before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if after is True or after == {}:
            return []
        if after is False:
            if before is False:
                return []
            return [Breach(path, Rule.BOUND_NARROWED, "other keys no longer allowed")]
        return self.value(before if isinstance(before, dict) else {}, after, f"{path}{{*}}")


def _kind(schema: Schema) -> str:
    """The JSON type a branch takes ("any" when unconstrained)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    values = schema.get("enum", [schema["const"]] if "const" in schema else None)
    if values:
        kinds = {_json_type(v) for v in values}
        return kinds.pop() if len(kinds) == 1 else "any"
    return "any"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _takes(new_kind: str, old_kind: str) -> bool:
    return new_kind in ("any", old_kind) or old_kind in _ACCEPTS.get(new_kind, ())


def _type_breach(path: str, old_kind: str, new_kinds: list[str]) -> Breach:
    if old_kind == "null":
        return Breach(path, Rule.NULLABLE_REMOVED, "null no longer accepted")
    return Breach(path, Rule.TYPE_CHANGED, f"{old_kind} -> {' | '.join(new_kinds)}")


def _value_set(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values: list[Any] | None = schema.get("enum")
    return values


def _values(old: Schema, new: Schema, path: str) -> list[Breach]:
    """Literal/enum values: every old value must still be accepted."""
    after = _value_set(new)
    if after is None:
        return []
    before = _value_set(old)
    if before is None:
        return [Breach(path, Rule.BOUND_NARROWED, f"only {_show(after)} accepted now")]
    gone = [value for value in before if value not in after]
    return [Breach(path, Rule.VALUE_REMOVED, f"{_show(gone)} no longer accepted")] if gone else []


Limit = tuple[float, bool]  # (value, exclusive)


def _upper(schema: Schema) -> Limit | None:
    """The tighter of maximum and exclusiveMaximum (at one value, the exclusive one)."""
    found = [(float(schema[k]), k.startswith("ex")) for k in _MAXIMA if k in schema]
    return min(found, key=lambda limit: (limit[0], not limit[1])) if found else None


def _lower(schema: Schema) -> Limit | None:
    """The tighter of minimum and exclusiveMinimum (at one value, the exclusive one)."""
    found = [(float(schema[k]), k.startswith("ex")) for k in _MINIMA if k in schema]
    return max(found, key=lambda limit: (limit[0], limit[1])) if found else None


def _tighter(before: Limit | None, after: Limit | None, sign: int) -> bool:
    """Whether `after` rejects a value `before` accepts (sign -1: upper bounds, 1: lower)."""
    if after is None:
        return False
    if before is None:
        return True
    if after[0] != before[0]:
        return (after[0] - before[0]) * sign > 0
    return after[1] and not before[1]


def _numeric(old: Schema, new: Schema, path: str) -> list[Breach]:
    breaches = []
    if _tighter(_upper(old), _upper(new), sign=-1):
        breaches.append(Breach(path, Rule.BOUND_NARROWED, _limits(_MAXIMA, old, new)))
    if _tighter(_lower(old), _lower(new), sign=1):
        breaches.append(Breach(path, Rule.BOUND_NARROWED, _limits(_MINIMA, old, new)))
    step, old_step = new.get("multipleOf"), old.get("multipleOf")
    if step is not None and (old_step is None or (old_step / step) % 1 != 0):
        breaches.append(Breach(path, Rule.BOUND_NARROWED, f"multipleOf {old_step} -> {step}"))
    return breaches


def _limits(keywords: tuple[str, str], old: Schema, new: Schema) -> str:
    def shown(schema: Schema) -> str:
        return ", ".join(f"{k} {schema[k]}" for k in keywords if k in schema) or "none"

    return f"{shown(old)} -> {shown(new)}"


def _bounds(old: Schema, new: Schema, path: str) -> list[Breach]:
    breaches = _numeric(old, new, path)
    for keyword in _UPPER:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            detail = f"{keyword} {old.get(keyword, 'none')} -> {new[keyword]}"
            breaches.append(Breach(path, Rule.BOUND_NARROWED, detail))
    for keyword in _LOWER:
        if new.get(keyword, 0) > old.get(keyword, 0):
            detail = f"{keyword} {old.get(keyword, 'none')} -> {new[keyword]}"
            breaches.append(Breach(path, Rule.BOUND_NARROWED, detail))
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        breaches.append(Breach(path, Rule.BOUND_NARROWED, "items must now be unique"))
    return breaches
