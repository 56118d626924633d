"""The committed contracts under schemas/ are the export of the stream table and the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ownlens_kafka.contracts.files import (
    ASYNCAPI_FILE,
    EXPORT_COMMAND,
    contract_files,
    export,
    read_schemas,
    render,
    schema_file,
)
from ownlens_kafka.contracts.headers import (
    DEAD_LETTER_HEADER_DESCRIPTIONS,
    OPTIONAL_DEAD_LETTER_HEADERS,
)
from ownlens_kafka.dead_letter import DLQ_HEADERS
from ownlens_kafka.envelope import PRODUCED_AT, PRODUCER, SCHEMA_VERSION
from ownlens_kafka.streams import STREAMS, StreamSpec
from tests.helpers import ROOT

SCHEMAS = ROOT / "schemas"


def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMAS / ASYNCAPI_FILE).read_text())
    return document


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_committed_schemas_are_the_export_of_the_models() -> None:
    expected = contract_files()
    committed = {path.name: path.read_text() for path in SCHEMAS.glob("*.json")}
    stale = sorted(
        name
        for name in expected.keys() | committed.keys()
        if expected.get(name) != committed.get(name)
    )
    assert not stale, (
        f"schemas/ is not the export of the models ({', '.join(stale)}); run: {EXPORT_COMMAND}"
    )


def test_export_is_deterministic_sorted_and_ends_with_a_newline(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    export(first)
    export(second)
    assert len(list(first.iterdir())) == len(STREAMS) + 1
    for path in first.iterdir():
        text = path.read_text()
        assert text == (second / path.name).read_text()
        assert text.endswith("}\n") and not text.endswith("\n\n")
        assert render(json.loads(text)) == text, f"{path.name}: keys not sorted"
    changed, removed = export(first)
    assert (changed, removed) == ([], []), "an unchanged export rewrote files"


def test_export_removes_the_schema_of_a_stream_no_longer_in_the_table(tmp_path: Path) -> None:
    (tmp_path / schema_file("gone")).write_text("{}\n")
    (tmp_path / "notes.txt").write_text("kept\n")
    _, removed = export(tmp_path)
    assert removed == [schema_file("gone")]
    assert (tmp_path / "notes.txt").exists()
    assert sorted(read_schemas(tmp_path)) == sorted(spec.name for spec in STREAMS)


@pytest.mark.parametrize("spec", STREAMS, ids=lambda spec: spec.name)
def test_each_stream_schema_is_its_model_with_its_kafka_binding(spec: StreamSpec) -> None:
    schema = json.loads((SCHEMAS / schema_file(spec.name)).read_text())
    fields = spec.model.model_fields
    assert set(schema["properties"]) == set(fields)
    required = {name for name, info in fields.items() if info.is_required()}
    assert set(schema.get("required", [])) == required
    assert schema["additionalProperties"] is False  # extra="forbid": unknown fields rejected
    kafka = schema["x-kafka"]
    assert (kafka["stream"], kafka["topic"], kafka["dead_letter_topic"]) == (
        spec.name,
        spec.topic,
        spec.dlq_topic,
    )
    assert kafka["consumer_group"] == spec.group_id
    assert kafka["key"]["x-fields"] == list(spec.key_fields)
    assert all(field in fields for field in spec.key_fields)
    assert kafka["schema_version"] == spec.model.schema_version
    assert set(kafka["headers"]["properties"]) == {PRODUCED_AT, PRODUCER, SCHEMA_VERSION}


def test_asyncapi_has_a_channel_for_every_topic_and_dead_letter_topic() -> None:
    document = _asyncapi()
    assert document["asyncapi"] == "3.0.0"
    addresses = sorted(channel["address"] for channel in document["channels"].values())
    topics = sorted(topic for spec in STREAMS for topic in (spec.topic, spec.dlq_topic))
    assert addresses == topics and len(addresses) == 2 * len(STREAMS) == 20
    unresolved = [ref for ref in _refs(document) if not _resolve(document, ref)]
    assert not unresolved


@pytest.mark.parametrize("spec", STREAMS, ids=lambda spec: spec.name)
def test_asyncapi_messages_carry_key_headers_and_group(spec: StreamSpec) -> None:
    document = _asyncapi()
    channel = document["channels"][spec.name]
    [message_ref] = channel["messages"].values()
    message = _resolve(document, message_ref["$ref"])
    assert message["payload"] == {"$ref": f"#/components/schemas/{spec.model.__name__}"}
    assert message["x-schema-version"] == spec.model.schema_version
    assert message["bindings"]["kafka"]["key"]["x-fields"] == list(spec.key_fields)
    headers = _resolve(document, message["headers"]["$ref"])
    assert set(headers["properties"]) == {PRODUCED_AT, PRODUCER, SCHEMA_VERSION}
    receive = document["operations"][f"receive_{spec.name}"]
    assert receive["action"] == "receive"
    assert receive["bindings"]["kafka"]["groupId"]["enum"] == [spec.group_id]
    letters = document["channels"][f"{spec.name}_dlq"]
    assert letters["address"] == spec.dlq_topic
    [letter_ref] = letters["messages"].values()
    letter = _resolve(document, letter_ref["$ref"])
    dead_letter_headers = _resolve(document, letter["headers"]["$ref"])
    assert set(dead_letter_headers["required"]) == DLQ_HEADERS - OPTIONAL_DEAD_LETTER_HEADERS
    assert set(dead_letter_headers["properties"]) == DLQ_HEADERS | set(headers["properties"])


def test_every_dead_letter_header_is_described_and_only_those() -> None:
    missing = sorted(DLQ_HEADERS - set(DEAD_LETTER_HEADER_DESCRIPTIONS))
    assert not missing, f"describe {missing} in ownlens_kafka/contracts/headers.py"
    assert set(DEAD_LETTER_HEADER_DESCRIPTIONS) == DLQ_HEADERS, "a described header is gone"
    assert OPTIONAL_DEAD_LETTER_HEADERS < DLQ_HEADERS
    assert all(DEAD_LETTER_HEADER_DESCRIPTIONS[name].get("description") for name in DLQ_HEADERS)
