"""The record check: one function generated per model for what msgspec cannot express."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import msgspec

from ownlens_kafka.gate.canonical import _check_uuids, _comparable, _plain_date
from ownlens_kafka.gate.declined import Check, _Declined
from ownlens_kafka.gate.derive import Schema, _Deriver, _only
from ownlens_kafka.models._types import AgreesWith, DateOf, FreeDictBounds

UNSET = msgspec.UNSET

_PLAIN_DEFAULTS = (type(None), bool, int, float, str)
_ASK = object()  # a default the gate cannot know: a record without the field goes to pydantic


@dataclass(frozen=True)
class _Derived:
    """A derived default: the UTC date (first ten characters) of an earlier timestamp."""

    source: str


@dataclass
class _Plan:
    """The struct fields and the record check's code, in declaration order."""

    struct_fields: list[tuple[str, Any, Any]] = field(default_factory=list)
    required: list[str] = field(default_factory=list)  # absent: ask pydantic
    uuids: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # code: each field's own check
    fills: list[str] = field(default_factory=list)  # code: defaults set after the checks
    rules: list[str] = field(default_factory=list)  # code: derived dates, rules between fields
    moments: dict[str, str] = field(default_factory=dict)  # field -> "timestamp" or "date"
    names: dict[str, Any] = field(default_factory=dict)
    sized: list[tuple[str, FreeDictBounds]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    declared: list[str] = field(default_factory=list)  # the fields planned so far

    def bind(self, value: Any) -> str:
        """A name for `value` in the generated code's namespace."""
        for name, bound in self.names.items():
            if bound is value:
                return name
        name = f"_v{len(self.names)}"
        self.names[name] = value
        return name


def _default(schema: Schema, moments: dict[str, str]) -> Any:
    """A plain default value, `dict` or `list` (factories), a `_Derived`, or `_ASK`."""
    if not _only(schema, "schema", "default", "default_factory", "default_factory_takes_data"):
        return _ASK
    if "default" in schema:
        value = schema["default"]
        return value if type(value) in _PLAIN_DEFAULTS else _ASK
    factory = schema.get("default_factory")
    if factory is dict or factory is list:
        return factory
    if isinstance(factory, DateOf) and moments.get(factory.source) == "timestamp":
        return _Derived(factory.source)  # the UTC date of an earlier timestamp
    return _ASK  # random or time-based (uuid4, utc_now), or unknown


def _passes(check: Check, default: Any) -> bool:
    """Whether the check lets the default through (then msgspec may fill it in)."""
    try:
        check(default() if default is dict or default is list else default)
    except Exception:
        return False
    return True


def _plan_field(plan: _Plan, deriver: _Deriver, name: str, schema: Schema) -> None:
    default: Any = msgspec.NODEFAULT  # required
    if schema.get("type") == "default":
        default = _default(schema, plan.moments)
        schema = schema["schema"]
    part = deriver.part(schema)
    if not part.known:
        plan.unknown.append(name)
    check = part.check
    struct_default: Any = UNSET
    if default is _ASK:
        plan.required.append(name)
    elif isinstance(default, _Derived):
        pass  # filled below, in field order
    elif default is msgspec.NODEFAULT:
        struct_default = default
    elif (
        check is not None
        and not (part.nullable and default is None)
        and not _passes(check, default)
    ):
        plan.fills.append(f"    if r.{name} is UNSET: r.{name} = {plan.bind(default)}")
        if default is dict or default is list:
            plan.fills[-1] += "()"
    elif default is dict or default is list:
        struct_default = msgspec.field(default_factory=default)
    else:
        struct_default = default
    unset = struct_default is UNSET
    kind = Union[part.type, msgspec.UnsetType] if unset else part.type  # noqa: UP007
    plan.struct_fields.append((name, kind, struct_default))
    if part.uuid:
        plan.uuids.append(name)
    if check is not None:
        skip = [
            f"v is not {word}" for word, on in (("UNSET", unset), ("None", part.nullable)) if on
        ]
        plan.checks.append(f"    v = r.{name}")
        plan.checks.append(
            f"    {'if ' + ' and '.join(skip) + ': ' if skip else ''}{plan.bind(check)}(v)"
        )
    for rule in part.rules:
        code = _rule_code(plan, rule, name, part.moment)
        if code is None:  # comparing values the gate keeps as different things: not taken
            plan.unknown.append(name)
            plan.checks.append(
                f"    if r.{name} is not None and r.{name} is not UNSET: raise _Declined"
            )
        plan.rules.extend(code or [])
    if isinstance(default, _Derived):  # after the rules: pydantic does not check a default
        plan.rules.append(f"    if r.{name} is UNSET: r.{name} = r.{default.source}[:10]")
    if part.moment:
        plan.moments[name] = part.moment
    plan.declared.append(name)
    if part.free_dicts is not None:
        plan.sized.append((name, part.free_dicts))


def _rule_code(plan: _Plan, rule: Any, name: str, moment: str) -> list[str] | None:
    """A rule between fields as code. pydantic's rules see only the fields declared before
    (`info.data`, so `plan.moments` so far) and compare them only when they are datetimes (a
    derived date) or of one kind (ordering): so do these."""
    if isinstance(rule, AgreesWith):
        if plan.moments.get(rule.source) != "timestamp":
            return [f"    if r.{name} is not UNSET: {plan.bind(_plain_date)}(r.{name})"]
        return [  # a timestamp the gate took is canonical UTC text: its date is its start
            f"    v = r.{name}",
            "    if v is not UNSET:",
            f"        if type(r.{rule.source}) is str:",
            f"            if v != r.{rule.source}[:10]: raise _Declined",
            f"        else: {plan.bind(_plain_date)}(v)",
        ]
    code = [f"    v = r.{name}", "    if v is not None and v is not UNSET:"]
    comparable = plan.bind(_comparable)
    for source in rule.sources:
        if source not in plan.moments and source in plan.declared:
            return None  # an earlier field that is no timestamp nor date
        if source not in plan.moments:
            continue  # declared later: pydantic does not see it
        if plan.moments[source] != moment:
            return None
        code.append(f"        w = r.{source}")
        code.append(
            f"        if w is not None and w is not UNSET and {comparable}(v) < {comparable}(w):"
            " raise _Declined"
        )
    return code if len(code) > 2 else []


def _compile(plan: _Plan) -> Check:
    """The record check as one function: no call per field (this runs for every record)."""
    code = ["def check(r):"]
    if plan.required:
        code.append(
            f"    if {' or '.join(f'r.{n} is UNSET' for n in plan.required)}: raise _Declined"
        )
    if plan.uuids:
        values = "".join(f"r.{n}, " for n in plan.uuids)
        code.append(f"    _check_uuids(''.join(filter(None, ({values}))))")  # None, UNSET: falsy
    code += plan.checks + plan.fills + plan.rules + ["    return None"]
    namespace = {**plan.names, "UNSET": UNSET, "_Declined": _Declined, "_check_uuids": _check_uuids}
    exec("\n".join(code), namespace)
    check: Check = namespace["check"]
    check.__doc__ = "\n".join(code)  # what was generated, for a reader
    return check
