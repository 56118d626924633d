"""The contract files under `schemas/`: rendered deterministically, written, read back (from the
working tree or from a git revision)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ownlens_kafka.contracts.asyncapi import asyncapi_document
from ownlens_kafka.contracts.stream_schema import stream_schema
from ownlens_kafka.streams import STREAMS, StreamSpec

DEFAULT_DIR = Path("schemas")
ASYNCAPI_FILE = "asyncapi.json"
SCHEMA_SUFFIX = ".schema.json"
EXPORT_COMMAND = "ownlens schema export"


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, non-ASCII kept, one trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_file(stream: str) -> str:
    return f"{stream}{SCHEMA_SUFFIX}"


def contract_files(specs: Iterable[StreamSpec] = STREAMS) -> dict[str, str]:
    """File name -> text of every contract file, as `ownlens schema export` writes them."""
    specs = list(specs)
    files = {schema_file(spec.name): render(stream_schema(spec)) for spec in specs}
    files[ASYNCAPI_FILE] = render(asyncapi_document(specs))
    return dict(sorted(files.items()))


def export(directory: Path, specs: Iterable[StreamSpec] = STREAMS) -> tuple[list[str], list[str]]:
    """Write every contract file into `directory`; remove the schemas of streams no longer in
    the table. Returns (files that changed, files removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = contract_files(specs)
    changed = []
    for name, text in files.items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(name)
    removed = sorted(p.name for p in directory.glob(f"*{SCHEMA_SUFFIX}") if p.name not in files)
    for name in removed:
        (directory / name).unlink()
    return changed, removed


def _stream_of(file_name: str) -> str | None:
    return file_name.removesuffix(SCHEMA_SUFFIX) if file_name.endswith(SCHEMA_SUFFIX) else None


def read_schemas(directory: Path) -> dict[str, dict[str, Any]]:
    """Stream name -> committed JSON Schema, from the files in `directory`."""
    return {
        stream: json.loads(path.read_text())
        for path in sorted(directory.glob(f"*{SCHEMA_SUFFIX}"))
        if (stream := _stream_of(path.name))
    }


def read_schemas_at(revision: str, directory: Path) -> dict[str, dict[str, Any]]:
    """Stream name -> JSON Schema as committed in git `revision` (CI: the merge base)."""
    where = directory.resolve()
    root = Path(_git(where, "rev-parse", "--show-toplevel").strip())
    prefix = where.relative_to(root).as_posix()
    listed = _git(root, "ls-tree", "--name-only", revision, f"{prefix}/").splitlines()
    schemas = {}
    for path in sorted(listed):
        stream = _stream_of(Path(path).name)
        if stream:
            schemas[stream] = json.loads(_git(root, "show", f"{revision}:{path}"))
    return schemas


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ValueError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout
