"""SIGKILL at every step boundary of the extractor and of the follower, then a clean run: no row
lost or written twice, and every bad record lettered exactly once.

Each child process (`child.py`) resumes from the committed offsets (and the offsets the Delta
table records) and kills itself at one step of one batch: after the letters ("letters": before
the Delta commit of the rows), after the rows are durable ("rows": before the Kafka commit),
after the Kafka commit ("offsets"), or at a time that falls wherever it falls (mid-write,
mid-fetch). The backlog mixes hostile records into valid ones.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.streams import get_stream
from ownlens_pipelines.etl import KafkaExtractor
from ownlens_pipelines.settings import ETLConfig
from tests.reliability.child import Job
from tests.reliability.figures import Figures
from tests.reliability.hostile import Record, batches, generate
from tests.reliability.oracle import (
    Outcome,
    check_stream,
    produce,
    raw_query,
    rows_of,
    wait_for_a_free_group,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(600)]

SPEC = get_stream("audit_logs")
BATCH = 150
# (step, n-th time in that process): every boundary, at the first batch and at later ones
KILLS = (
    ("letters", 1),
    ("rows", 1),
    ("offsets", 1),
    ("rows", 2),
    ("letters", 3),
    ("offsets", 2),
)
TIMED_KILLS_S = (1.5, 2.5)  # wherever the process is then: mid-write, mid-fetch
CHILD_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def backlog() -> list[Record]:
    """About 2,500 records of one stream, most of them hostile, none over 20 kB."""
    examples = generate(batches((SPEC,), size=(120, 160)), 20)
    return [r for records, _ in examples for r in records if r.size <= 20_000]


def crash(job: Job) -> tuple[bool, str]:
    """Run the job; whether it died of SIGKILL, and the tail of its stderr otherwise."""
    child = job.start()
    try:
        out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        _, err = child.communicate()
        return False, f"timed out; {err.decode(errors='replace')[-800:]}"
    killed = child.returncode == -signal.SIGKILL
    tail = f"{out.decode(errors='replace')} {err.decode(errors='replace')[-800:]}"
    return killed, "" if killed else f"exit {child.returncode}; {tail}"


def topic_ids_in(warehouse: Path) -> Counter[str | None]:
    found = raw_query(warehouse, SPEC, "SELECT _topic_id, count(*) FROM raw GROUP BY _topic_id")
    return Counter({topic_id: count for topic_id, count in found})


@pytest.mark.parametrize("mode", ["run", "follow"])
def test_sigkill_at_every_step_boundary_loses_and_doubles_nothing(
    mode: str,
    kafka_config: KafkaConfig,
    make_topics,
    tmp_path: Path,
    figures: Figures,
    backlog: list[Record],
) -> None:
    make_topics(SPEC)
    started = time.monotonic()
    sent = produce(kafka_config, backlog)
    warehouse = tmp_path / "lake"
    job = Job(mode, SPEC.name, kafka_config.secret_json(), str(warehouse), BATCH, idle_timeout=10)
    kills, missed, timed, waited = 0, [], 0, 0.0

    def settled() -> float:
        # a killed member holds its partitions until its session expires: the next process
        # would get only the others (and a run ends when those are read)
        return wait_for_a_free_group(kafka_config, SPEC.group_id, topic)

    topic = kafka_config.topic_name(SPEC.topic)
    for step, at in KILLS:
        killed, why = crash(replace(job, kill_step=step, kill_at=at))
        kills += killed
        if not killed:
            missed.append(f"{step}#{at}: {why}")
        waited += settled()
    for delay in TIMED_KILLS_S:  # a run that finished first was not killed: not counted
        killed, _ = crash(replace(job, kill_after_s=delay))
        timed += killed
        waited += settled()
    etl = ETLConfig(kafka=kafka_config, warehouse=str(warehouse), batch_size=BATCH)
    result = KafkaExtractor(SPEC, etl).run()
    outcome = Outcome()
    check_stream(outcome, kafka_config, SPEC, sent, rows_of(warehouse, SPEC))
    incarnations = topic_ids_in(warehouse)
    figures.record(
        f"sigkill_{mode}",
        **outcome.figures(),
        faults_injected=kills + timed,
        step_kills=kills,
        timed_kills=timed,
        step_kills_missed=missed,
        final_run_caught_up=result.caught_up,
        topic_ids=len(incarnations),
        waited_for_dead_members_s=round(waited, 1),
        duration_s=round(time.monotonic() - started, 1),
    )
    print(outcome.problems())
    assert missed == []
    assert result.caught_up and result.lag_after == 0
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows, outcome.letters) == (
        0,
        0,
        outcome.accepted,
        outcome.rejected,
    )
    assert len(incarnations) == 1 and None not in incarnations
