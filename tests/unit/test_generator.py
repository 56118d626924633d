"""The demo traffic generator as pure logic: no broker, records taken straight from Traffic."""

from __future__ import annotations

import ipaddress
import itertools
import json
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from pydantic import ValidationError

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.generator import Record, Traffic, generate
from ownlens_kafka.generator.traffic import (
    FLAWS,
    PAGE_LOADS,
    SEEDED_START,
    SESSION_COUNTERS,
)
from ownlens_kafka.streams import STREAMS, get_stream

ALL = {spec.name for spec in STREAMS}


def take(count: int, seed: int | None = 1, **options: Any) -> list[Record]:
    return list(itertools.islice(Traffic.create(seed=seed, **options), count))


@cache
def sample() -> tuple[Record, ...]:
    """One seeded run shared by the read-only tests."""
    return tuple(take(20_000))


def payloads(records: tuple[Record, ...] | list[Record], stream: str) -> list[dict[str, Any]]:
    return [r.payload for r in records if r.stream == stream and r.payload is not None]


def test_the_same_seed_gives_the_same_records() -> None:
    first, second = take(3_000, seed=42, invalid_ratio=0.1), take(3_000, seed=42, invalid_ratio=0.1)
    assert first == second
    assert first != take(3_000, seed=43, invalid_ratio=0.1)


def test_a_seeded_run_starts_at_the_fixed_time() -> None:
    stamps = [p["event_timestamp"] for p in payloads(sample(), "user_events")]
    assert SEEDED_START <= stamps[0] < stamps[-1]
    assert stamps == sorted(stamps)


def test_invalid_records_do_not_change_the_valid_sequence() -> None:
    clean = take(2_000, seed=5)
    noisy = [r for r in take(2_000, seed=5, invalid_ratio=0.2) if r.valid]
    assert 1_500 < len(noisy) < 2_000
    assert noisy == clean[: len(noisy)]


def test_every_valid_payload_validates_and_every_stream_is_fed() -> None:
    records = sample()
    assert {r.stream for r in records} == ALL
    for record in records:
        get_stream(record.stream).model.model_validate(record.payload)


IDS = {
    "user_events": ("event_id",),
    "sessions": ("session_id",),
    "content_events": ("event_id",),
    "articles": ("article_id", "last_updated_time"),  # an update repeats the article_id
    "internal_content": ("content_id",),
    "security_events": ("event_id",),
    "compliance_events": ("event_id",),
    "audit_logs": ("log_id",),
    "quality_metrics": ("metric_id",),
    "model_predictions": ("prediction_id",),
}


def test_records_are_unique_per_stream() -> None:
    assert set(IDS) == ALL
    for stream, fields in IDS.items():
        ids = [tuple(p[name] for name in fields) for p in payloads(sample(), stream)]
        assert len(ids) == len(set(ids)), stream


def test_session_counters_equal_the_sessions_user_events() -> None:
    events: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
    sessions = 0
    for record in sample():
        payload = record.payload
        assert payload is not None
        if record.stream == "user_events":
            events[payload["session_id"]].append(payload)
        elif record.stream == "sessions":
            sessions += 1
            mine = events[payload["session_id"]]
            kinds = Counter(e["event_type"] for e in mine)
            loads = [e for e in mine if e["event_type"] in PAGE_LOADS]
            assert payload["total_events"] == len(mine)
            for kind, counter in SESSION_COUNTERS.items():
                assert payload[counter] == kinds[kind], counter
            assert payload["pages_visited_count"] == len(loads)
            assert payload["unique_pages_count"] == len({e["page_url"] for e in loads})
            assert mine[-1]["event_type"] == "session_end"
            assert payload["session_start"] == mine[0]["event_timestamp"]
            assert payload["session_end"] == mine[-1]["event_timestamp"]
            assert {e["user_id"] for e in mine} == {payload["user_id"]}
            assert payload["article_ids_visited"] == list(
                dict.fromkeys(e["article_id"] for e in loads if e["article_id"])
            )
    assert sessions > 100


def test_sessions_only_still_count_the_unsent_user_events() -> None:
    records = take(300, streams=["sessions"])
    assert {r.stream for r in records} == {"sessions"}
    assert all(p["total_events"] >= 2 for p in payloads(records, "sessions"))


def test_events_only_reference_articles_published_before() -> None:
    published: dict[str, datetime] = {}
    referenced = 0
    for record in sample():
        payload = record.payload
        assert payload is not None
        if record.stream == "articles":
            published.setdefault(str(payload["article_id"]), payload["publish_time"])
            assert payload["primary_author_id"] is not None
        elif record.stream in ("user_events", "content_events") and payload["article_id"]:
            article = str(payload["article_id"])
            assert article in published, f"{record.stream} refers to an unpublished article"
            assert published[article] <= payload["event_timestamp"]
            referenced += 1
    assert referenced > 1_000


def test_all_events_share_the_companies_and_brands() -> None:
    brands = {(p["company_id"], p["brand_id"]) for r in sample() if (p := r.payload)}
    assert len({company for company, _ in brands}) == 2
    assert 4 <= len(brands) <= 8


def test_compliance_requests_move_through_their_steps_in_order() -> None:
    steps: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for payload in payloads(sample(), "compliance_events"):
        steps[payload["metadata"]["request_id"]].append(payload)
    complete = 0
    for events in steps.values():
        kinds = [e["event_type"] for e in events]
        assert kinds == ["REQUEST", "PROCESSED", "COMPLETED"][: len(kinds)]
        assert len({e["requested_at"] for e in events}) == 1
        assert len({(e["compliance_type"], e["user_id"]) for e in events}) == 1
        stamps = [e["event_timestamp"] for e in events]
        assert stamps == sorted(stamps)
        if len(events) == 3:
            complete += 1
            last = events[2]
            assert last["requested_at"] <= last["processed_at"] <= last["completed_at"]
            assert last["status"] == "COMPLETED"
    assert complete > 50


def test_prediction_outcomes_follow_their_prediction() -> None:
    seen: dict[str, dict[str, Any]] = {}
    outcomes = 0
    for payload in payloads(sample(), "model_predictions"):
        original_id = payload.get("metadata", {}).get("outcome_of")
        if original_id is None:
            assert payload.get("actual_observed_at") is None
            seen[str(payload["prediction_id"])] = payload
            continue
        outcomes += 1
        original = seen[original_id]
        for name in ("model_id", "entity_id", "predicted_at", "prediction_value", "batch_id"):
            assert payload[name] == original[name], name
        assert payload["prediction_id"] != original["prediction_id"]
        assert payload["actual_observed_at"] >= original["predicted_at"]
        assert payload["is_correct"] is not None and payload["actual_value"] is not None
    assert outcomes > 100


def test_quality_metrics_are_per_table_and_past_day() -> None:
    for payload in payloads(sample(), "quality_metrics"):
        assert payload["table_name"].split(".")[0] in ("raw", "analytics")
        assert payload["metric_date"] < SEEDED_START.date()
        assert 0 <= payload["overall_quality_score"] <= 1
    tables = {p["table_name"] for p in payloads(sample(), "quality_metrics")}
    assert {f"raw.{spec.name}" for spec in STREAMS} <= tables


def test_security_and_audit_events_carry_plausible_addresses() -> None:
    addresses = [
        ipaddress.ip_address(p["ip_address"])
        for stream in ("security_events", "audit_logs")
        for p in payloads(sample(), stream)
    ]
    assert all(address.is_global for address in addresses)
    assert {address.version for address in addresses} == {4, 6}
    agents = {p["user_agent"] for p in payloads(sample(), "security_events")}
    assert any("Mozilla/5.0" in agent for agent in agents)


def test_internal_content_targets_real_departments() -> None:
    for payload in payloads(sample(), "internal_content"):
        assert payload["author_department_id"] == payload["department_id"]
        if not payload["is_company_wide"]:
            assert payload["target_departments"]


def is_invalid(record: Record) -> bool:
    assert record.value is not None
    try:
        get_stream(record.stream).model.model_validate_json(record.value)
    except ValidationError:
        return True
    return False


def test_invalid_records_are_invalid_and_about_the_requested_share() -> None:
    records = take(10_000, seed=3, invalid_ratio=0.2)
    bad = [r for r in records if not r.valid]
    assert 0.18 <= len(bad) / len(records) <= 0.22
    assert all(is_invalid(r) for r in bad)
    assert {r.flaw for r in bad} == set(FLAWS)
    not_json = 0
    for record in bad:
        try:
            json.loads(record.value or b"")
        except ValueError:
            not_json += 1
    assert 0.25 < not_json / len(bad) < 0.65  # both malformed bytes and schema-invalid JSON


@pytest.mark.parametrize("flaw", sorted(FLAWS))
def test_each_flaw_breaks_every_stream(flaw: str) -> None:
    rng = random.Random(0)
    for record in {r.stream: r for r in sample()}.values():
        assert record.payload is not None
        value = FLAWS[flaw](get_stream(record.stream), record.payload, rng)
        assert is_invalid(Record(record.stream, value=value)), record.stream


def test_all_invalid_still_spreads_over_streams() -> None:
    records = take(500, seed=2, invalid_ratio=1.0)
    assert not any(r.valid for r in records)
    assert len({r.stream for r in records}) > 3


def test_a_subset_of_streams_is_respected() -> None:
    records = take(2_000, streams=["articles", "content_events"], invalid_ratio=0.1)
    assert {r.stream for r in records} == {"articles", "content_events"}


def test_unseeded_runs_use_the_current_time() -> None:
    first = take(50, seed=None, streams=["security_events"])[0].payload
    assert first is not None
    assert abs((first["event_timestamp"] - datetime.now(UTC)).total_seconds()) < 3_600


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"count": -1}, "count"),
        ({"count": 5, "duration": 1.0}, "not both"),
        ({"duration": 0.0}, "duration"),
        ({"rate": -3.0}, "rate"),
        ({"invalid_ratio": 1.5}, "invalid_ratio"),
    ],
)
def test_generate_rejects_bad_options_before_connecting(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        generate(KafkaConfig(bootstrap_servers="127.0.0.1:1"), **options)


def test_generate_rejects_unknown_streams() -> None:
    with pytest.raises(KeyError, match="unknown stream"):
        generate(KafkaConfig(bootstrap_servers="127.0.0.1:1"), count=1, streams=["nope"])
