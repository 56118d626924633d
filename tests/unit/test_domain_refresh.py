"""Incremental domain refreshes equal a full rebuild, row for row, whatever arrives when."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from ownlens_kafka.consumer import ConsumedEvent
from ownlens_kafka.streams import get_stream
from ownlens_pipelines.assets.domain import DOMAIN_ASSETS
from ownlens_pipelines.refresh import refresh
from ownlens_pipelines.schema import events_table
from ownlens_pipelines.warehouse import Warehouse
from tests.factories import valid_payload

DAYS = [f"2025-03-{d:02d}" for d in range(10, 16)]


def _overrides(stream: str, rng: random.Random, pools: dict[str, list[str]]) -> dict[str, Any]:
    moment = f"{rng.choice(DAYS)}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
    article = rng.choice(pools["articles"])
    return {
        "user_events": {"event_timestamp": moment},
        "sessions": {"session_start": moment},
        "content_events": {"event_timestamp": moment, "article_id": article},
        "articles": {"article_id": article, "title": f"title {rng.randrange(1000)}"},
        "security_events": {"event_timestamp": moment, "event_type": "LOGIN_FAILED"},
        "audit_logs": {"event_timestamp": moment},
        "quality_metrics": {
            "table_name": rng.choice(pools["tables"]),
            "metric_date": rng.choice(DAYS),
        },
        "model_predictions": {"model_id": rng.choice(pools["models"])},
    }.get(stream, {})


class Feed:
    """Random raw rows, late and redelivered ones among them, written as Kafka batches are."""

    def __init__(self, root: Path, seed: int) -> None:
        self.warehouse = Warehouse(str(root))
        self.rng = random.Random(seed)
        self.pools = {
            "articles": [str(uuid.UUID(int=self.rng.getrandbits(128))) for _ in range(4)],
            "tables": ["raw.a", "raw.b", "raw.c"],
            "models": [str(uuid.UUID(int=self.rng.getrandbits(128))) for _ in range(3)],
        }
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self.next_offset: dict[str, int] = {}

    def increment(self, streams: list[str]) -> None:
        for stream in self.rng.sample(streams, self.rng.randrange(1, len(streams) + 1)):
            spec = get_stream(stream)
            payloads = []
            for _ in range(self.rng.randrange(1, 15)):
                earlier = self.sent.get(stream)
                if earlier and self.rng.random() < 0.2:  # redelivered (same id, same grain)
                    payloads.append(self.rng.choice(earlier))
                else:
                    payload = valid_payload(spec.model, **_overrides(stream, self.rng, self.pools))
                    payloads.append(payload)
                    self.sent.setdefault(stream, []).append(payload)
            first = self.next_offset.get(stream, 0)
            self.next_offset[stream] = first + len(payloads)
            items = [
                ConsumedEvent(spec.model.model_validate(p), "k", "t", 0, first + i, [])
                for i, p in enumerate(payloads)
            ]
            self.warehouse.write_raw(spec, events_table(spec.model, items))


def rows_of(warehouse: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    with warehouse.connect() as connection:
        found = connection.execute(sql).fetchall()
    return sorted(
        (tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in found),
        key=repr,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_refreshes_equal_a_full_rebuild(tmp_path: Path, seed: int) -> None:
    feed = Feed(tmp_path, seed)
    streams = sorted({stream for spec in DOMAIN_ASSETS for stream in spec.deps})
    modes: dict[str, list[str]] = {spec.table: [] for spec in DOMAIN_ASSETS}
    for _ in range(12):
        feed.increment(streams)
        for spec in DOMAIN_ASSETS:
            modes[spec.table].append(refresh(feed.warehouse, spec).mode)
    for spec in DOMAIN_ASSETS:
        assert modes[spec.table][0] == "full"
        assert "incremental" in modes[spec.table][1:], spec.table
        assert "full" not in modes[spec.table][1:], spec.table
        incremental = rows_of(feed.warehouse, f"SELECT * FROM {spec.table}")
        full = rows_of(feed.warehouse, spec.sql)  # the SQL over every raw row, now
        assert incremental == full, spec.table
        assert incremental, spec.table  # the comparison compares something


def test_a_refresh_with_nothing_new_commits_nothing(tmp_path: Path) -> None:
    feed = Feed(tmp_path, 7)
    spec = DOMAIN_ASSETS[0]
    feed.increment(list(spec.deps))
    refresh(feed.warehouse, spec)
    version = feed.warehouse.table(spec.table).version()  # type: ignore[union-attr]
    assert refresh(feed.warehouse, spec).mode == "unchanged"
    assert feed.warehouse.table(spec.table).version() == version  # type: ignore[union-attr]
    assert refresh(feed.warehouse, spec, full=True).mode == "full"
