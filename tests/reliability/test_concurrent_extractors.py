"""Two and three processes extracting the same consumer group into the same warehouse at once
(with compaction, vacuum and readers running meanwhile): the group splits the partitions and
moves them between the processes as members come, go and die, and still no row is lost or
written twice, and every bad record is lettered exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from deltalake import DeltaTable

from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.streams import get_stream
from ownlens_pipelines.maintenance import maintain
from ownlens_pipelines.warehouse import Warehouse, raw_table
from tests.conftest import wait_for
from tests.reliability.child import Job
from tests.reliability.figures import Figures
from tests.reliability.hostile import Record, batches, generate
from tests.reliability.oracle import (
    Outcome,
    Sent,
    check_stream,
    committed,
    ends_of,
    produce,
    rows_of,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(400)]

SPEC = get_stream("sessions")
BATCH = 200


@pytest.fixture(scope="module")
def waves() -> list[list[Record]]:
    """Three waves of about 700 records of one stream, most of them hostile."""
    examples = generate(batches((SPEC,), size=(120, 160)), 15)
    records = [r for found, _ in examples for r in found if r.size <= 20_000]
    third = len(records) // 3
    return [records[:third], records[third : 2 * third], records[2 * third :]]


class Processes:
    """Child processes of a test, each ended when the test ends."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, job: Job) -> subprocess.Popen[bytes]:
        child = job.start()
        self.children.append(child)
        return child

    def stop(self, child: subprocess.Popen[bytes], timeout: float = 60.0) -> tuple[int, str]:
        """SIGTERM (a follower finishes its batch and exits); its exit code and stderr tail."""
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            _, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            _, err = child.communicate()
        return child.returncode, err.decode(errors="replace")[-600:]

    def end(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    yield started
    started.end()


def committed_to_end(config: KafkaConfig, sent: list[Sent]) -> bool:
    ends = ends_of(sent)
    found = committed(config, SPEC.group_id, ends)
    return all(found.get(where, -1) >= end for where, end in ends.items())


def follow_with_a_kill(
    config: KafkaConfig, processes: Processes, job: Job, waves: list[list[Record]], members: int
) -> tuple[list[Sent], list[tuple[int, str]]]:
    """`members` followers share the group; the first is killed mid-stream and another joins;
    the rest finish every wave. What was sent, and the survivors' exits."""
    sent = produce(config, waves[0])
    first, *others = (processes.start(job) for _ in range(members))
    sent += produce(config, waves[1])
    wait_for(
        lambda: any(o >= 0 for o in committed(config, SPEC.group_id, ends_of(sent)).values()),
        timeout=90,
        interval=0.2,
        what="a first commit",
    )
    first.kill()  # mid-stream: its partitions move once its session expires
    first.wait()
    others.append(processes.start(job))
    sent += produce(config, waves[2])
    wait_for(
        lambda: committed_to_end(config, sent),
        timeout=180,
        interval=0.5,
        what="every wave committed",
    )
    return sent, [processes.stop(child) for child in others]


def test_followers_in_two_processes_share_a_group_without_losing_or_doubling(
    kafka_config: KafkaConfig,
    make_topics,
    tmp_path: Path,
    figures: Figures,
    processes: Processes,
    waves: list[list[Record]],
) -> None:
    """A and B follow the stream; A is killed mid-stream, C joins; B and C finish it."""
    make_topics(SPEC)
    started = time.monotonic()
    warehouse = str(tmp_path / "lake")
    job = Job("follow", SPEC.name, kafka_config.secret_json(), warehouse, BATCH, idle_timeout=10)
    sent, exits = follow_with_a_kill(kafka_config, processes, job, waves, members=2)
    outcome = Outcome()
    check_stream(outcome, kafka_config, SPEC, sent, rows_of(warehouse, SPEC))
    figures.record(
        "concurrent_followers",
        **outcome.figures(),
        processes=3,
        faults_injected=1,
        exit_codes=[code for code, _ in exits],
        duration_s=round(time.monotonic() - started, 1),
    )
    print(outcome.problems())
    assert [code for code, _ in exits] == [0, 0], exits
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows, outcome.letters) == (
        0,
        0,
        outcome.accepted,
        outcome.rejected,
    )


def test_two_runs_started_at_once_neither_lose_nor_double(
    kafka_config: KafkaConfig,
    make_topics,
    tmp_path: Path,
    figures: Figures,
    processes: Processes,
    waves: list[list[Record]],
) -> None:
    make_topics(SPEC)
    started = time.monotonic()
    warehouse = str(tmp_path / "lake")
    sent = produce(kafka_config, [r for wave in waves for r in wave])
    job = Job("run", SPEC.name, kafka_config.secret_json(), warehouse, BATCH, idle_timeout=10)
    runs = [processes.start(job), processes.start(job)]
    exits = []
    for child in runs:
        try:
            _, err = child.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            child.kill()
            _, err = child.communicate()
        exits.append((child.returncode, err.decode(errors="replace")[-600:]))
    outcome = Outcome()
    check_stream(outcome, kafka_config, SPEC, sent, rows_of(warehouse, SPEC))
    figures.record(
        "concurrent_runs",
        **outcome.figures(),
        processes=2,
        exit_codes=[code for code, _ in exits],
        duration_s=round(time.monotonic() - started, 1),
    )
    print(outcome.problems())
    assert [code for code, _ in exits] == [0, 0], exits
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled) == (0, 0)


def test_three_followers_with_maintenance_and_readers_neither_lose_nor_double(
    kafka_config: KafkaConfig,
    make_topics,
    tmp_path: Path,
    figures: Figures,
    processes: Processes,
    waves: list[list[Record]],
) -> None:
    """Three followers (one killed, one joining), while the table is compacted, vacuumed and
    checkpointed over and over, and read from this process all along."""
    make_topics(SPEC)
    started = time.monotonic()
    warehouse = str(tmp_path / "lake")
    Warehouse(warehouse).ensure_raw_table(SPEC)
    stop, reads, failures, maintained = threading.Event(), [0], list[str](), [0, 0]

    def maintenance() -> None:
        while not stop.is_set():
            table = DeltaTable(f"{warehouse}/raw/{SPEC.name}")
            done = maintain(table, raw_table(SPEC), timedelta(hours=1))
            maintained[0] += 1
            maintained[1] += done.compacted_files
            stop.wait(0.3)

    def reader() -> None:
        while not stop.is_set():
            try:
                with Warehouse(warehouse).connect([raw_table(SPEC)]) as db:
                    db.execute(f"SELECT count(*), max(_offset) FROM {raw_table(SPEC)}").fetchall()
                reads[0] += 1
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            stop.wait(0.1)

    threads = [threading.Thread(target=maintenance), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    job = Job("follow", SPEC.name, kafka_config.secret_json(), warehouse, BATCH, idle_timeout=10)
    try:
        sent, exits = follow_with_a_kill(kafka_config, processes, job, waves, members=3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    table = DeltaTable(f"{warehouse}/raw/{SPEC.name}")
    maintain(table, raw_table(SPEC), timedelta(0))  # every replaced file removed now
    outcome = Outcome()
    check_stream(outcome, kafka_config, SPEC, sent, rows_of(warehouse, SPEC))
    figures.record(
        "concurrent_followers_with_maintenance",
        **outcome.figures(),
        processes=4,
        faults_injected=1,
        exit_codes=[code for code, _ in exits],
        maintenance_passes=maintained[0],
        compacted_files=maintained[1],
        reads=reads[0],
        failed_reads=len(failures),
        duration_s=round(time.monotonic() - started, 1),
    )
    assert [code for code, _ in exits] == [0, 0, 0], exits
    assert failures == [] and reads[0] > 0
    assert maintained[1] > 0, "no compaction happened while the followers wrote"
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows, outcome.letters) == (
        0,
        0,
        outcome.accepted,
        outcome.rejected,
    )
