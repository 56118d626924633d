"""A broker restart under `run`, `stream` and the library's `run(handler)`: the embedded broker
keeps nothing, so its topics come back as new incarnations (offsets from 0 again). Every record
of each incarnation is stored or handed out once, and the first incarnation's rows are kept
next to the second's (distinct `_topic_id`s): nothing of either is lost or doubled.

A dedicated broker on a fixed port is stopped and started again; the topics are created again
and the second incarnation written (more records per partition than the first, so offsets the
old incarnation had reached exist in the new one too).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ownlens_kafka.broker import EmbeddedBroker, free_port
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.consumer import BaseKafkaConsumer, ConsumedEvent
from ownlens_kafka.streams import get_stream
from ownlens_kafka.topics import create_topics
from ownlens_pipelines.etl import KafkaExtractor
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.streaming import stream_forever
from ownlens_pipelines.warehouse import Warehouse
from tests.conftest import wait_for
from tests.reliability.child import Job
from tests.reliability.figures import Figures
from tests.reliability.hostile import valid_records
from tests.reliability.oracle import (
    Outcome,
    Sent,
    check_rows,
    committed,
    ends_of,
    produce,
    rows_of,
    topic_ids,
)

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
        reason="restarts the embedded broker",
    ),
]

SPEC = get_stream("user_events")
FIRST, SECOND = 600, 1_500


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    """A broker of this module's own, on a port that stays the same across restarts."""
    with EmbeddedBroker(port=free_port()) as server:
        yield server


class Incarnations:
    """The topic's records per incarnation, and the restart between them."""

    def __init__(self, broker: EmbeddedBroker, config: KafkaConfig) -> None:
        self.broker = broker
        self.config = config
        self.topic = config.topic_name(SPEC.topic)
        self.sent: list[list[Sent]] = []
        self.ids: list[str] = []
        self.restarts = 0

    def write(self, count: int) -> list[Sent]:
        create_topics(self.config, [SPEC])
        sent = produce(self.config, valid_records(SPEC, count))
        self.sent.append(sent)
        self.ids.append(topic_ids(self.config, [self.topic])[self.topic])
        return sent

    def restart(self) -> None:
        """Stop and start the broker (every topic and group gone), then the second incarnation."""
        self.broker.stop()
        self.broker.start()
        self.restarts += 1
        self.write(SECOND)

    def committed_to_end(self, group: str = SPEC.group_id) -> bool:
        ends = ends_of(self.sent[-1])
        try:
            found = committed(self.config, group, ends)
        except Exception:  # the broker is coming back
            return False
        return all(found.get(where, -1) >= end for where, end in ends.items())

    def check_rows(self, warehouse: str) -> Outcome:
        """Each incarnation's records once, with its own topic id, and nothing else."""
        outcome = Outcome()
        rows = rows_of(warehouse, SPEC)
        by_id: dict[str | None, list[Any]] = {}
        for row in rows:
            by_id.setdefault(row[1], []).append(row)
        topic_id: str | None
        for topic_id, sent in zip(self.ids, self.sent, strict=True):
            outcome.records += len(sent)
            outcome.accepted += len(sent)
            check_rows(outcome, sent, by_id.pop(topic_id, []), {self.topic: topic_id})
        for topic_id, strays in by_id.items():
            outcome.stray_rows += [f"{len(strays)} rows of unknown topic id {topic_id}"]
        return outcome

    def figures(self, outcome: Outcome, **more: Any) -> dict[str, Any]:
        return {
            **outcome.figures(),
            "faults_injected": self.restarts,
            "incarnations": len(self.ids),
            "distinct_topic_ids": len(set(self.ids)),
            **more,
        }


@pytest.fixture
def incarnations(broker: EmbeddedBroker) -> Incarnations:
    namespace = f"restart{time.monotonic_ns()}."
    return Incarnations(broker, broker.kafka_config(namespace=namespace))


def warehouse_rows(path: str) -> int:
    return Warehouse(path).count(f"raw.{SPEC.name}")


def test_run_across_a_broker_restart_keeps_both_incarnations_once(
    incarnations: Incarnations, tmp_path: Path, figures: Figures
) -> None:
    """The restart happens inside a run: the first incarnation's last batch is durable, its
    offsets not yet committed (to a broker that no longer knows the topic)."""
    incarnations.write(FIRST)
    etl = ETLConfig(
        kafka=incarnations.config,
        warehouse=str(tmp_path / "lake"),
        batch_size=200,
        idle_timeout=5,
    )

    def restart_when_all_written(step: str) -> None:
        first_written = step == "rows" and warehouse_rows(etl.warehouse) >= FIRST
        if first_written and not incarnations.restarts:
            incarnations.restart()

    errors: list[str] = []
    runs = 0
    for on_step in (restart_when_all_written, None, None):
        runs += 1
        try:
            result = KafkaExtractor(SPEC, etl, on_step=on_step).run()
        except Exception as exc:  # a run may fail on the restart: the next one must recover
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        if incarnations.restarts and result.lag_after == 0 and on_step is None:
            break
    outcome = incarnations.check_rows(etl.warehouse)
    figures.record(
        "broker_restart_run", **incarnations.figures(outcome, runs=runs, run_errors=errors)
    )
    assert incarnations.restarts == 1
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows) == (0, 0, FIRST + SECOND)
    assert len(set(incarnations.ids)) == 2


def test_stream_across_a_broker_restart_keeps_both_incarnations_once(
    incarnations: Incarnations, tmp_path: Path, figures: Figures, monkeypatch
) -> None:
    """`ownlens stream`'s followers keep running while the broker restarts."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # an ephemeral instance for the reports
    etl = ETLConfig(
        kafka=incarnations.config,
        warehouse=str(tmp_path / "lake"),
        batch_size=200,
        idle_timeout=5,
    )
    stop, errors = threading.Event(), []

    def stream() -> None:
        try:
            stream_forever([SPEC], stop, None, etl)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    worker = threading.Thread(target=stream, name="stream")
    worker.start()
    try:
        incarnations.write(FIRST)
        wait_for(incarnations.committed_to_end, timeout=60, interval=0.3, what="first committed")
        incarnations.restart()
        wait_for(
            lambda: incarnations.committed_to_end() or errors,
            timeout=90,
            interval=0.3,
            what="second incarnation committed",
        )
    finally:
        stop.set()
        worker.join(60)
    outcome = incarnations.check_rows(etl.warehouse)
    figures.record("broker_restart_stream", **incarnations.figures(outcome, errors=errors))
    assert not worker.is_alive() and errors == []
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows) == (0, 0, FIRST + SECOND)


def test_library_run_handler_across_a_broker_restart_hands_out_each_record_once(
    incarnations: Incarnations, figures: Figures
) -> None:
    """The restart happens inside the handler: the batch is committed after it returns. A
    consumer that raises is started again (as its supervisor would) to count what is lost; the
    last assertion asks that `run(handler)` carry on by itself."""
    incarnations.write(FIRST)
    handled: list[ConsumedEvent[Any]] = []

    def handler(item: ConsumedEvent[Any]) -> None:
        handled.append(item)
        if len(handled) == FIRST and not incarnations.restarts:
            incarnations.restart()

    errors: list[str] = []
    consumer: BaseKafkaConsumer[Any]
    for _ in range(3):  # as a supervisor would: a consumer that raised is started again
        with BaseKafkaConsumer(incarnations.config, stream=SPEC) as consumer:
            try:
                consumer.run(handler, max_messages=FIRST + SECOND - len(handled), max_seconds=90)
                break
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    seen = Counter(str(getattr(item.event, SPEC.id_field)) for item in handled)
    outcome = Outcome()
    for sent in incarnations.sent:
        outcome.records += len(sent)
        outcome.accepted += len(sent)
        for record in sent:
            count = seen.pop(record.event_id or "", 0)
            if count == 0:
                outcome.lost_rows.append(record.position)
            outcome.doubled_rows += [record.position] * max(count - 1, 0)
    outcome.stray_rows += [f"{event_id} x{count}" for event_id, count in seen.items()]
    outcome.rows = len(handled)
    figures.record("broker_restart_library_run", **incarnations.figures(outcome, raised=errors))
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled) == (0, 0)
    assert errors == []  # run(handler) itself carries on across the restart


def test_run_across_a_topic_recreation_keeps_both_incarnations_once(
    incarnations: Incarnations, tmp_path: Path, figures: Figures
) -> None:
    """The topic is deleted and created again inside a run, the broker up (on Kafka, as on
    this broker, a group's offsets of a deleted topic go with it): the run's last batch of the
    first incarnation is settled after that. Then the second incarnation is written, and the
    next runs must read it from its start. In a child process: librdkafka 2.16 may crash
    (SIGSEGV) when a topic it is subscribed to is recreated."""
    incarnations.write(FIRST)
    warehouse = str(tmp_path / "lake")
    job = Job(
        "run",
        SPEC.name,
        incarnations.config.secret_json(),
        warehouse,
        200,
        idle_timeout=5,
        recreate_at_rows=FIRST,
    )
    child = job.start()
    _, err = child.communicate(timeout=120)
    incarnations.restarts += 1
    topic = incarnations.topic
    incarnations.sent.append(produce(incarnations.config, valid_records(SPEC, SECOND)))
    incarnations.ids.append(topic_ids(incarnations.config, [topic])[topic])
    etl = ETLConfig(kafka=incarnations.config, warehouse=warehouse, batch_size=200, idle_timeout=5)
    errors: list[str] = []
    for _ in range(3):
        try:
            if KafkaExtractor(SPEC, etl).run().lag_after == 0:
                break
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    outcome = incarnations.check_rows(warehouse)
    figures.record(
        "topic_recreation_run",
        **incarnations.figures(outcome, child_exit=child.returncode, run_errors=errors),
    )
    print(outcome.problems(), err.decode(errors="replace")[-300:])
    assert child.returncode == 0, f"the run died: exit {child.returncode}"
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows) == (0, 0, FIRST + SECOND)
