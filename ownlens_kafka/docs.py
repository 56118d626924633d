"""The README's stream table, generated from the stream table itself.

`python -m ownlens_kafka.docs README.md` rewrites the block between the markers."""

from __future__ import annotations

import sys
from pathlib import Path

from ownlens_kafka.streams import STREAMS

START, END = "<!-- streams:start -->", "<!-- streams:end -->"


def stream_table() -> str:
    """Markdown: one row per stream, as declared in `ownlens_kafka/streams.py`."""
    lines = [
        "| stream | domain | topic | model | key | consumer group | dead-letter topic |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in STREAMS:
        lines.append(
            f"| `{s.name}` | {s.domain} | `{s.topic}` | `{s.model.__name__}` | "
            f"`{s.key_label}` | `{s.group_id}` | `{s.dlq_topic}` |"
        )
    return "\n".join(lines)


def render(text: str) -> str:
    """`text` with the block between the markers replaced by the current table."""
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{stream_table()}\n{END}{tail}"


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(render(path.read_text()))


if __name__ == "__main__":
    main()
