"""One AsyncAPI 3.0 document for every stream topic and its dead-letter topic."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import version
from typing import Any

from ownlens_kafka.contracts.headers import dead_letter_headers_schema, event_headers_schema
from ownlens_kafka.contracts.stream_schema import key_schema
from ownlens_kafka.streams import StreamSpec

Schema = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
EVENT_HEADERS = "EventHeaders"
DEAD_LETTER_HEADERS = "DeadLetterHeaders"
_REF_TEMPLATE = "#/components/schemas/{model}"


def _ref(*path: str) -> Schema:
    return {"$ref": "#/" + "/".join(path)}


def _dead_letter_name(spec: StreamSpec) -> str:
    return f"{spec.model.__name__}DeadLetter"


def _channels(spec: StreamSpec) -> dict[str, Schema]:
    model, letter = spec.model.__name__, _dead_letter_name(spec)
    return {
        spec.name: {
            "address": spec.topic,
            "title": spec.name,
            "description": spec.description,
            "messages": {model: _ref("components", "messages", model)},
            "bindings": {
                "kafka": {
                    "topic": spec.topic,
                    "partitions": spec.partitions,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        },
        f"{spec.name}_dlq": {
            "address": spec.dlq_topic,
            "title": f"{spec.name} dead letters",
            "description": f"Records of `{spec.topic}` that could not be decoded or validated.",
            "messages": {letter: _ref("components", "messages", letter)},
            "bindings": {
                "kafka": {
                    "topic": spec.dlq_topic,
                    "partitions": spec.partitions,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        },
    }


def _operations(spec: StreamSpec) -> dict[str, Schema]:
    model, letter, dlq = spec.model.__name__, _dead_letter_name(spec), f"{spec.name}_dlq"
    group = {"type": "string", "enum": [spec.group_id]}
    return {
        f"send_{spec.name}": {
            "action": "send",
            "summary": f"Publish {model} events (validated first).",
            "channel": _ref("channels", spec.name),
            "messages": [_ref("channels", spec.name, "messages", model)],
        },
        f"receive_{spec.name}": {
            "action": "receive",
            "summary": f"Consume {model} events; what fails validation goes to `{spec.dlq_topic}`.",
            "channel": _ref("channels", spec.name),
            "messages": [_ref("channels", spec.name, "messages", model)],
            "bindings": {"kafka": {"groupId": group, "bindingVersion": KAFKA_BINDING_VERSION}},
        },
        f"dead_letter_{spec.name}": {
            "action": "send",
            "summary": "Copy a rejected record, bytes and key unchanged, with the reason.",
            "channel": _ref("channels", dlq),
            "messages": [_ref("channels", dlq, "messages", letter)],
        },
    }


def _messages(spec: StreamSpec) -> dict[str, Schema]:
    model, letter = spec.model.__name__, _dead_letter_name(spec)
    key = {"kafka": {"key": key_schema(spec), "bindingVersion": KAFKA_BINDING_VERSION}}
    return {
        model: {
            "name": model,
            "title": model,
            "summary": spec.description,
            "contentType": "application/json",
            "payload": _ref("components", "schemas", model),
            "headers": _ref("components", "schemas", EVENT_HEADERS),
            "bindings": key,
            "x-schema-version": spec.model.schema_version,
        },
        letter: {
            "name": letter,
            "title": f"{model} dead letter",
            "summary": f"A record of `{spec.topic}` that failed, as it was read.",
            "contentType": "application/octet-stream",
            "payload": {
                "description": f"The rejected record's value, bytes unchanged (only its leading "
                f"bytes when too large, see dlq.truncated): usually {model} JSON that failed "
                "validation, possibly not JSON at all."
            },
            "headers": _ref("components", "schemas", DEAD_LETTER_HEADERS),
            "bindings": key,
        },
    }


def _schemas(specs: Iterable[StreamSpec]) -> dict[str, Schema]:
    schemas: dict[str, Schema] = {
        EVENT_HEADERS: event_headers_schema(),
        DEAD_LETTER_HEADERS: dead_letter_headers_schema(),
    }
    for spec in specs:
        schema = spec.model.model_json_schema(ref_template=_REF_TEMPLATE)
        for name, definition in {**schema.pop("$defs", {}), spec.model.__name__: schema}.items():
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are both called {name}")
    return schemas


def asyncapi_document(specs: Iterable[StreamSpec]) -> Schema:
    """AsyncAPI 3.0: a channel per topic and dead-letter topic, send/receive operations, the
    messages with their keys and headers, and the models' schemas."""
    specs = list(specs)
    channels: dict[str, Schema] = {}
    operations: dict[str, Schema] = {}
    messages: dict[str, Schema] = {}
    for spec in specs:
        channels |= _channels(spec)
        operations |= _operations(spec)
        messages |= _messages(spec)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "OwnLens event streams",
            "version": version("ownlens"),
            "description": (
                "Every OwnLens stream and its dead-letter topic, generated from the stream table "
                "(ownlens_kafka/streams.py) by `ownlens schema export`; do not edit. Topic and "
                "group names are prefixed with KAFKA_NAMESPACE when it is set."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": _schemas(specs), "messages": messages},
    }
