"""No record stops a stream: thousands of hostile records over all ten topics, mixed with valid
ones and written with a plain confluent-kafka producer, are each either in the warehouse once
(pydantic accepts them) or in the dead-letter topic once (it does not), and every partition is
read to its end.

The records come from Hypothesis strategies (`hostile.py`), derandomized: the same command writes
the same records on every run (what else is imported in the session shifts Hypothesis's choices a
little). Run with `-s` to see the figures as they are recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.consumer import BaseKafkaConsumer
from ownlens_kafka.errors import EventValidationError
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import STREAMS, get_stream
from ownlens_pipelines.etl import KafkaExtractor
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.streaming import stream_forever
from tests.conftest import wait_for
from tests.reliability.figures import Figures
from tests.reliability.hostile import Record, batches, generate, near_limit
from tests.reliability.oracle import (
    Outcome,
    Sent,
    check_stream,
    committed,
    ends_of,
    produce,
    rows_of,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(900)]

EXAMPLES = 120  # Hypothesis examples of 120-160 records each
HOSTILE_MIN = 10_000
LARGE = 20_000  # bytes: records over this are kept to LARGE_MAX, so a run stays in memory
LARGE_MAX = 300
NEAR_LIMIT_MAX = 20
LIBRARY_STREAM = get_stream("security_events")  # personal fields, free-form dicts


@pytest.fixture(scope="module")
def corpus() -> list[Record]:
    """The hostile and valid records of every stream, the same on every run."""
    examples = generate(batches(), EXAMPLES)
    records: list[Record] = []
    near: list[Record] = []
    large = 0
    for batch, at_limit in examples:
        for record in batch:
            if record.size > LARGE:
                large += 1
                if large > LARGE_MAX:
                    continue
            records.append(record)
        near += at_limit
    step = max(len(records) // (NEAR_LIMIT_MAX + 1), 1)
    for index, record in enumerate(near[:NEAR_LIMIT_MAX]):  # spread among the others
        records.insert((index + 1) * step, record)
    return records


def kinds(records: list[Record]) -> dict[str, int]:
    return dict(sorted(Counter(r.kind.split(".")[0] for r in records if r.hostile).items()))


def test_every_hostile_record_is_dead_lettered_once_and_every_valid_one_stored_once(
    kafka_config, make_topics, tmp_path, figures: Figures, corpus: list[Record]
) -> None:
    make_topics()
    started = time.monotonic()
    sent = produce(kafka_config, corpus)
    etl = ETLConfig(
        kafka=kafka_config,
        warehouse=str(tmp_path / "lake"),
        batch_size=1_000,
        idle_timeout=5,
    )
    raised: dict[str, str] = {}
    not_caught_up: list[str] = []
    for spec in STREAMS:
        try:
            result = KafkaExtractor(spec, etl).run()
        except Exception as exc:  # one stream stopped: the others still run, then the verdict
            raised[spec.name] = f"{type(exc).__name__}: {str(exc)[:300]}"
            continue
        if not result.caught_up or result.lag_after:
            not_caught_up.append(f"{spec.name} (lag after {result.lag_after})")
    outcome = Outcome()
    for spec in STREAMS:
        check_stream(outcome, kafka_config, spec, sent, rows_of(etl.warehouse, spec))
    figures.record(
        "fuzz_extractor",
        **outcome.figures(),
        streams=len(STREAMS),
        kinds=kinds(corpus),
        bytes=sum(r.size for r in corpus),
        extractor_raised=raised,
        not_caught_up=not_caught_up,
        duration_s=round(time.monotonic() - started, 1),
    )
    assert outcome.hostile >= HOSTILE_MIN
    assert raised == {} and not_caught_up == []
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows, outcome.letters) == (
        0,
        0,
        outcome.accepted,
        outcome.rejected,
    )


def all_committed(config: KafkaConfig, sent: list[Sent]) -> bool:
    """Whether every stream's group has committed the end of every partition written to."""
    for spec in STREAMS:
        ends = ends_of([s for s in sent if s.record.stream == spec.name])
        found = committed(config, spec.group_id, ends)
        if any(found.get(where, -1) < end for where, end in ends.items()):
            return False
    return True


def test_stream_follows_all_ten_streams_past_every_hostile_record(
    kafka_config, make_topics, tmp_path, figures: Figures, corpus: list[Record], monkeypatch
) -> None:
    """`ownlens stream`: ten followers in one process, the hostile records arriving while they
    run; none of them stops, and together they store and letter each record once."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # an ephemeral instance for the reports
    make_topics()
    started = time.monotonic()
    etl = ETLConfig(
        kafka=kafka_config,
        warehouse=str(tmp_path / "lake"),
        batch_size=1_000,
        idle_timeout=5,
    )
    stop, errors = threading.Event(), []

    def stream() -> None:
        try:
            stream_forever(STREAMS, stop, None, etl)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")

    worker = threading.Thread(target=stream, name="stream")
    worker.start()
    try:
        sent = produce(kafka_config, corpus)
        wait_for(
            lambda: errors or all_committed(kafka_config, sent),
            timeout=300,
            interval=1.0,
            what="every stream committed to its end",
        )
    finally:
        stop.set()
        worker.join(120)
    outcome = Outcome()
    for spec in STREAMS:
        check_stream(outcome, kafka_config, spec, sent, rows_of(etl.warehouse, spec))
    figures.record(
        "fuzz_stream",
        **outcome.figures(),
        streams=len(STREAMS),
        stream_errors=errors,
        duration_s=round(time.monotonic() - started, 1),
    )
    assert errors == [] and not worker.is_alive()
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows, outcome.letters) == (
        0,
        0,
        outcome.accepted,
        outcome.rejected,
    )


def consume_all(
    consumer: BaseKafkaConsumer[Any], sent: list[Sent], timeout: float
) -> Iterator[tuple[str, None, int, int, str]]:
    """Every event `consume_batch` hands out, committed batch by batch, until the group's
    committed offsets reach the ends of what was sent (or `timeout`)."""
    ends = ends_of(sent)
    deadline = time.monotonic() + timeout
    id_field = consumer.spec.id_field
    while time.monotonic() < deadline:
        items = consumer.consume_batch(500, 0.5)
        for item in items:
            item.metadata  # noqa: B018 - reading the headers must not raise either
            yield (
                item.topic,
                None,
                item.partition,
                item.offset,
                str(getattr(item.event, id_field)),
            )
        consumer.commit()
        if not items:
            done = committed(consumer.config, consumer.group_id, ends)
            if all(done.get(where, -1) >= end for where, end in ends.items()):
                return


def test_the_library_consumer_hands_out_valid_records_once_and_letters_the_rest(
    kafka_config, make_topics, figures: Figures, corpus: list[Record]
) -> None:
    spec = LIBRARY_STREAM
    make_topics(spec)
    records = [r for r in corpus if r.stream == spec.name]
    records += generate(near_limit(spec), 4)
    sent = produce(kafka_config, records)
    error = None
    rows: list[tuple[str, None, int, int, str]] = []
    consumer: BaseKafkaConsumer[Any]
    with BaseKafkaConsumer(kafka_config, stream=spec) as consumer:
        try:
            rows += consume_all(consumer, sent, timeout=120)
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
    outcome = Outcome()
    check_stream(outcome, kafka_config, spec, sent, rows, rows_carry_topic_id=False)
    figures.record("fuzz_library_consumer", **outcome.figures(), stream=spec.name, raised=error)
    assert error is None
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled) == (0, 0)


def test_producers_reject_hostile_events_by_index_and_send_nothing_for_a_batch_that_raises(
    kafka_config, make_topics, figures: Figures, corpus: list[Record]
) -> None:
    make_topics()
    raised_by_publish: Counter[str] = Counter()
    wrong_indexes: list[str] = []
    checked = delivered = 0
    for spec in STREAMS:
        payloads = []
        for record in corpus:
            if record.stream != spec.name or record.value is None:
                continue
            try:
                payload = json.loads(record.value)
            except (ValueError, RecursionError):
                continue
            payloads.append(payload)
        bad = set()
        for index, payload in enumerate(payloads):
            try:
                spec.model.model_validate(payload)
            except Exception:
                bad.add(index)
        producer: BaseKafkaProducer[Any]
        with BaseKafkaProducer(kafka_config, stream=spec) as producer:
            for payload in payloads:
                if not isinstance(payload, dict):  # a TypeError names the caller's mistake
                    continue
                try:
                    producer.publish(payload)
                except EventValidationError:
                    pass
                except Exception as exc:
                    raised_by_publish[f"{spec.name}: {type(exc).__name__}"] += 1
            producer.flush()
            result = producer.publish_batch(payloads)
        checked += len(payloads)
        delivered += result.delivered
        failed = {failure.index for failure in result.failures}
        if failed != bad or result.delivered != len(payloads) - len(bad):
            wrong_indexes.append(
                f"{spec.name}: failures {sorted(failed ^ bad)[:5]} differ, "
                f"delivered {result.delivered} of {len(payloads) - len(bad)}"
            )

    spec = get_stream("user_events")
    topic = kafka_config.topic_name(spec.topic)
    before = _end_offsets(kafka_config, topic)

    def breaks_midway() -> Iterator[Any]:
        yield from (json.loads(r.value or b"") for r in corpus[:50] if r.kind == "valid")
        raise RuntimeError("the caller's iterator fails")

    with BaseKafkaProducer(kafka_config, stream=spec) as producer, pytest.raises(RuntimeError):
        producer.publish_batch(breaks_midway())
    sent_anyway = sum(_end_offsets(kafka_config, topic).values()) - sum(before.values())
    figures.record(
        "producer_validation",
        payloads=checked,
        delivered=delivered,
        publish_raised_other_errors=dict(raised_by_publish),
        batches_misreported=len(wrong_indexes),
        sent_for_a_batch_that_raised=sent_anyway,
    )
    assert raised_by_publish == Counter()
    assert wrong_indexes == []
    assert sent_anyway == 0


def _end_offsets(config: Any, topic: str) -> dict[int, int]:
    from tests.reliability.oracle import read_all

    ends: dict[int, int] = {}
    for message in read_all(config, topic):
        partition = message.partition()
        offset = message.offset()
        assert partition is not None and offset is not None
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


def test_validation_raises_nothing_but_validation_errors(
    figures: Figures, corpus: list[Record]
) -> None:
    raised: Counter[str] = Counter()
    for record in corpus:
        try:
            get_stream(record.stream).model.model_validate_json(record.value or b"")
        except Exception as exc:
            if type(exc).__name__ != "ValidationError":
                raised[f"{record.kind}: {type(exc).__name__}"] += 1
    figures.record("validation_errors_only", records=len(corpus), other_errors=dict(raised))
    assert raised == Counter()
