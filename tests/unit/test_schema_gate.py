"""The breaking-change gate: each rule fails on a modified copy of a real model, additive changes
pass, a version bump with a fresh export accepts, and the real models pass against schemas/."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from uuid import UUID

import pytest
from click.testing import CliRunner
from pydantic import Field, StringConstraints, create_model

from ownlens_kafka.contracts.compat import Breach, Rule, breaking_changes
from ownlens_kafka.contracts.files import (
    export,
    read_schemas,
    read_schemas_at,
    schema_file,
)
from ownlens_kafka.contracts.stream_schema import stream_schema
from ownlens_kafka.contracts.verdict import Status, check_streams, report
from ownlens_kafka.schema_cli import schema as schema_command
from ownlens_kafka.streams import STREAMS, StreamSpec, get_stream
from tests.helpers import ROOT

AUDIT = get_stream("audit_logs")
SESSIONS = get_stream("sessions")
SCHEMAS = ROOT / "schemas"


def variant(
    spec: StreamSpec, *, drop: tuple[str, ...] = (), version: int | None = None, **fields: Any
) -> StreamSpec:
    """The stream with a copy of its model: fields dropped, replaced or added, version set. The
    copy has the model's config but is no EventModel subclass (which code may look up by name)."""
    base = spec.model
    kept: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in base.model_fields.items()
        if name not in drop and name not in fields
    }
    model = cast(
        Any,
        create_model(
            base.__name__, __config__=base.model_config, __doc__=base.__doc__, **kept, **fields
        ),
    )
    model.schema_version = base.schema_version if version is None else version
    return dataclasses.replace(spec, model=model)


def breaches(changed: StreamSpec, spec: StreamSpec = AUDIT) -> list[Breach]:
    return breaking_changes(stream_schema(spec), stream_schema(changed))


def rules(changed: StreamSpec, spec: StreamSpec = AUDIT) -> set[tuple[str, Rule]]:
    return {(b.where, b.rule) for b in breaches(changed, spec)}


def test_an_unchanged_copy_of_every_model_passes() -> None:
    for spec in STREAMS:
        copy = variant(spec)
        assert stream_schema(copy) == stream_schema(spec), spec.name
        assert breaches(copy, spec) == []


# --- each rule fails --------------------------------------------------------------------------


def test_removed_field_fails() -> None:
    assert rules(variant(AUDIT, drop=("error_code",))) == {("error_code", Rule.REMOVED_FIELD)}


def test_renamed_field_fails_as_removed_and_names_the_likely_new_name() -> None:
    renamed = variant(
        AUDIT, drop=("error_code",), error_kind=(Annotated[str, Field(max_length=50)] | None, None)
    )
    [breach] = breaches(renamed)
    assert (breach.where, breach.rule) == ("error_code", Rule.REMOVED_FIELD)
    assert "renamed to error_kind?" in breach.detail


def test_new_required_field_without_default_fails() -> None:
    assert rules(variant(AUDIT, reviewer=(str, ...))) == {("reviewer", Rule.NEW_REQUIRED_FIELD)}


def test_optional_field_made_required_fails() -> None:
    assert rules(variant(AUDIT, user_id=(UUID | None, ...))) == {
        ("user_id", Rule.NEW_REQUIRED_FIELD)
    }


def test_changed_type_fails() -> None:
    changed = variant(AUDIT, status_code=(str | None, None))
    assert rules(changed) == {("status_code", Rule.TYPE_CHANGED)}
    assert "integer -> string | null" in breaches(changed)[0].detail


def test_nullable_made_not_nullable_fails() -> None:
    changed = variant(AUDIT, user_id=(UUID, Field(default_factory=lambda: UUID(int=0))))
    assert rules(changed) == {("user_id", Rule.NULLABLE_REMOVED)}


def test_lowered_max_length_fails() -> None:
    changed = variant(
        AUDIT, error_code=(Annotated[str, StringConstraints(max_length=20)] | None, None)
    )
    [breach] = breaches(changed)
    assert (breach.where, breach.rule, breach.detail) == (
        "error_code",
        Rule.BOUND_NARROWED,
        "maxLength 50 -> 20",
    )


def test_raised_ge_fails() -> None:
    changed = variant(AUDIT, response_time_ms=(Annotated[int, Field(ge=1)] | None, None))
    [breach] = breaches(changed)
    assert (breach.where, breach.rule) == ("response_time_ms", Rule.BOUND_NARROWED)
    assert breach.detail == "minimum 0 -> minimum 1"


def test_bound_added_where_there_was_none_fails() -> None:
    capped = variant(
        SESSIONS, engagement_score=(Annotated[float, Field(ge=0, le=100)] | None, None)
    )
    [breach] = breaches(capped, SESSIONS)
    assert (breach.where, breach.rule) == ("engagement_score", Rule.BOUND_NARROWED)
    assert breach.detail == "none -> maximum 100"


def test_lowered_max_keys_of_a_free_dict_fails() -> None:
    capped = variant(AUDIT, metadata=(Annotated[dict[str, Any], Field(max_length=10)], {}))
    assert rules(capped) == {("metadata", Rule.BOUND_NARROWED)}


def test_dropped_bounds_pass() -> None:
    assert rules(variant(AUDIT, resource_type=(str, ...))) == set()


def test_exclusive_bound_at_the_same_value_fails() -> None:
    changed = variant(AUDIT, status_code=(Annotated[int, Field(ge=100, lt=599)] | None, None))
    assert rules(changed) == {("status_code", Rule.BOUND_NARROWED)}


def test_changed_pattern_fails() -> None:
    upper_only = Annotated[
        str, StringConstraints(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")
    ]
    changed = variant(SESSIONS, country_code=(upper_only | None, None))
    assert rules(changed, SESSIONS) == {("country_code", Rule.PATTERN_CHANGED)}


def test_changed_format_fails() -> None:
    changed = variant(AUDIT, event_date=(datetime, ...))
    assert ("event_date", Rule.FORMAT_CHANGED) in rules(changed)


def test_removed_literal_value_fails() -> None:
    fewer = Literal["READ", "WRITE", "DELETE", "UPDATE", "EXPORT", "EXECUTE", "LOGIN"]
    [breach] = breaches(variant(AUDIT, action=(fewer, ...)))
    assert (breach.where, breach.rule, breach.detail) == (
        "action",
        Rule.VALUE_REMOVED,
        '["LOGOUT"] no longer accepted',
    )


def test_free_text_restricted_to_values_fails() -> None:
    changed = variant(AUDIT, resource_type=(Literal["article", "user"], ...))
    assert rules(changed) == {("resource_type", Rule.BOUND_NARROWED)}


def test_list_items_are_compared() -> None:
    shorter = Annotated[
        list[Annotated[str, StringConstraints(max_length=10)]], Field(max_length=1000)
    ]
    changed = variant(SESSIONS, categories_visited=(shorter, Field(default_factory=list)))
    assert rules(changed, SESSIONS) == {("categories_visited[]", Rule.BOUND_NARROWED)}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"topic": "audit-logs-v2"}, Rule.TOPIC_CHANGED),
        ({"group_id": "audit-log-consumers"}, Rule.GROUP_CHANGED),
        ({"key_fields": ("user_id",)}, Rule.KEY_CHANGED),
    ],
)
def test_changed_topic_group_or_key_fails(change: dict[str, Any], rule: Rule) -> None:
    assert ("kafka", rule) in rules(dataclasses.replace(AUDIT, **change))


def test_changed_topic_also_moves_the_dead_letter_topic() -> None:
    moved = rules(dataclasses.replace(AUDIT, topic="audit-logs-v2"))
    assert moved == {("kafka", Rule.TOPIC_CHANGED), ("kafka", Rule.DEAD_LETTER_TOPIC_CHANGED)}


def test_removed_stream_fails() -> None:
    committed = {spec.name: stream_schema(spec) for spec in STREAMS}
    [verdict] = [v for v in check_streams(committed, committed, STREAMS[1:]) if v.failed]
    assert verdict.stream == STREAMS[0].name
    assert [b.rule for b in verdict.breaches] == [Rule.STREAM_REMOVED]


# --- additive changes pass --------------------------------------------------------------------


def test_new_optional_field_passes() -> None:
    assert breaches(variant(AUDIT, reviewer=(str | None, None))) == []


def test_widened_bounds_pass() -> None:
    wider = variant(
        AUDIT,
        error_code=(Annotated[str, StringConstraints(max_length=500)] | None, None),
        status_code=(Annotated[int, Field(ge=0, le=999)] | None, None),
    )
    assert breaches(wider) == []


def test_new_literal_value_passes() -> None:
    more = Literal["READ", "WRITE", "DELETE", "UPDATE", "EXPORT", "EXECUTE", "LOGIN", "LOGOUT", "X"]
    assert breaches(variant(AUDIT, action=(more, ...))) == []


def test_made_nullable_or_optional_passes() -> None:
    assert breaches(variant(AUDIT, success=(bool | None, None))) == []


def test_integer_widened_to_number_passes() -> None:
    assert breaches(variant(AUDIT, response_time_ms=(float | None, None))) == []


def test_changed_description_and_title_pass() -> None:
    described = variant(
        AUDIT, error_code=(Annotated[str, Field(max_length=50, description="x")] | None, None)
    )
    assert breaches(described) == []


def test_new_stream_passes() -> None:
    [verdict] = check_streams({}, {}, [AUDIT])
    assert verdict.status is Status.OK and not verdict.failed


# --- version bumps ----------------------------------------------------------------------------


REMOVED: dict[str, Any] = {"drop": ("error_code",)}


def _gate(changed: StreamSpec, exported_changed: bool) -> Any:
    committed = {AUDIT.name: stream_schema(AUDIT)}
    exported = {AUDIT.name: stream_schema(changed)} if exported_changed else committed
    [verdict] = check_streams(committed, exported, [changed])
    return verdict


def test_breaking_change_without_version_bump_fails_and_says_how_to_accept() -> None:
    verdict = _gate(variant(AUDIT, **REMOVED), exported_changed=True)
    assert verdict.status is Status.BREAKING and verdict.failed
    assert "bump AuditLogCreate.schema_version to 2" in verdict.notes[0]


def test_breaking_change_with_bump_and_new_export_is_accepted() -> None:
    verdict = _gate(variant(AUDIT, version=2, **REMOVED), exported_changed=True)
    assert verdict.status is Status.ACCEPTED and not verdict.failed
    assert verdict.notes == ["version bump 1 -> 2"]
    assert [b.rule for b in verdict.breaches] == [Rule.REMOVED_FIELD]


def test_breaking_change_with_bump_but_no_export_fails() -> None:
    verdict = _gate(variant(AUDIT, version=2, **REMOVED), exported_changed=False)
    assert verdict.status is Status.NOT_EXPORTED and verdict.failed
    assert "not exported at version 2" in verdict.notes[0]


def test_lowered_version_fails() -> None:
    committed = {AUDIT.name: stream_schema(variant(AUDIT, version=3))}
    [verdict] = check_streams(committed, committed, [AUDIT])
    assert verdict.failed and "went down: 3 -> 1" in verdict.notes[0]


def test_additive_change_not_exported_passes_with_a_note() -> None:
    verdict = _gate(variant(AUDIT, reviewer=(str | None, None)), exported_changed=False)
    assert verdict.status is Status.OK and "ownlens schema export" in verdict.notes[0]


# --- the real models and the command -----------------------------------------------------------


def test_models_do_not_break_the_committed_schemas() -> None:
    committed = read_schemas(SCHEMAS)
    assert sorted(committed) == sorted(spec.name for spec in STREAMS)
    verdicts = check_streams(committed, committed)
    assert not any(v.failed for v in verdicts), report(verdicts, "schemas/")


def test_models_do_not_break_the_schemas_committed_in_git_head() -> None:
    """Before a commit: a breaking change exported again without a version bump fails here."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    baseline = read_schemas_at("HEAD", SCHEMAS)
    verdicts = check_streams(baseline, read_schemas(SCHEMAS))
    assert not any(v.failed for v in verdicts), report(verdicts, "schemas/ at HEAD")


def test_models_do_not_break_the_contract_as_it_was_before_its_last_export() -> None:
    """In CI, where HEAD already holds the new export: a breaking change exported again without
    a version bump fails against the schemas as they were before the last commit to change
    them (skipped where that history is not in the clone)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    last = subprocess.run(
        ["git", "log", "-n", "1", "--format=%H", "--", "schemas"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    try:
        baseline = read_schemas_at(f"{last}^", SCHEMAS) if last else {}
    except ValueError:  # a shallow clone, or the commit that created schemas/
        baseline = {}
    if not baseline:
        pytest.skip("no earlier export of schemas/ in this clone's history")
    verdicts = check_streams(baseline, read_schemas(SCHEMAS))
    assert not any(v.failed for v in verdicts), report(verdicts, f"schemas/ at {last[:8]}^")


def _committed_with(tmp_path: Path, stream: str, edit: Any) -> Path:
    """schemas/ as exported, with one stream's committed schema edited."""
    directory = tmp_path / "schemas"
    export(directory)
    path = directory / schema_file(stream)
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    return directory


def test_check_command_names_stream_field_and_rule_and_exits_1(tmp_path: Path) -> None:
    def widen(document: dict[str, Any]) -> None:  # as if the model had lost these since
        document["properties"]["action"]["enum"].append("IMPERSONATE")
        document["properties"]["legacy_ref"] = {"type": "string"}
        document["x-kafka"]["key"]["x-fields"] = ["user_id"]

    directory = _committed_with(tmp_path, "audit_logs", widen)
    result = CliRunner().invoke(schema_command, ["check", str(directory)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "BREAKING     audit_logs" in lines
    assert '  - action: enum-value-removed: ["IMPERSONATE"] no longer accepted' in lines
    assert "  - legacy_ref: removed-field: no longer in the model" in lines
    assert "  - kafka: key-changed: ['user_id'] -> ['log_id']" in lines
    assert "ok           user_events" in lines
    assert lines[-1] == "FAILED: 1 stream(s) break readers or writers: audit_logs"


def test_check_command_passes_on_a_fresh_export(tmp_path: Path) -> None:
    runner = CliRunner()
    exported = runner.invoke(schema_command, ["export", str(tmp_path / "s")])
    assert exported.exit_code == 0 and "11 file(s) written" in exported.output
    result = runner.invoke(schema_command, ["check", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "passed: no unaccepted breaking change"


def test_check_against_a_git_revision_reads_the_committed_files(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    directory = _committed_with(tmp_path, "audit_logs", lambda d: None)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "schemas"], check=True)
    committed = json.loads((directory / schema_file("audit_logs")).read_text())
    committed["properties"]["legacy_ref"] = {"type": "string"}
    (directory / schema_file("audit_logs")).write_text(json.dumps(committed))  # not committed
    assert "legacy_ref" not in read_schemas_at("HEAD", directory)["audit_logs"]["properties"]
    result = CliRunner().invoke(schema_command, ["check", str(directory), "--against", "HEAD"])
    assert result.exit_code == 0, result.output
    missing = CliRunner().invoke(schema_command, ["check", str(directory), "--against", "nope"])
    assert missing.exit_code == 1 and "git ls-tree" in missing.output


def test_schema_is_an_ownlens_command() -> None:
    from ownlens_kafka.cli import cli

    result = CliRunner().invoke(cli, ["schema", "--help"])
    assert result.exit_code == 0, "register it in ownlens_kafka/cli.py: cli.add_command(schema)"
    assert "export" in result.output and "check" in result.output


def test_event_that_now_forbids_other_keys_fails() -> None:
    committed = stream_schema(AUDIT)
    committed["additionalProperties"] = True  # as if the model had allowed extra keys
    [breach] = breaking_changes(committed, stream_schema(AUDIT))
    assert str(breach) == "the event: bound-narrowed: other keys no longer allowed"
