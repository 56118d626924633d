"""A child process for the fault tests: one extraction (`run`) or one follower (`follow`) of a
stream, which SIGKILLs itself at a step boundary (`on_step` "letters", "rows", "offsets", the
n-th time it is reached) or after a delay, as a crash would, with nothing cleaned up; or which
deletes and creates its topic again in the middle of the run. In a process of its own, since
librdkafka may crash (SIGSEGV) when a topic it is subscribed to is recreated.

    python -m tests.reliability.child '<Job as JSON>'

A follower without a kill point runs until SIGTERM or SIGINT, then stops cleanly. A run that
ends prints its figures as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from types import FrameType
from typing import TYPE_CHECKING

from tests.helpers import ROOT

if TYPE_CHECKING:
    from ownlens_kafka.config import KafkaConfig
    from ownlens_kafka.streams import StreamSpec


@dataclass(frozen=True, slots=True)
class Job:
    mode: str  # "run" or "follow"
    stream: str
    kafka: str  # KafkaConfig.secret_json()
    warehouse: str
    batch_size: int
    idle_timeout: float = 3.0
    group_id: str | None = None
    kill_step: str | None = None  # "letters", "rows" or "offsets"
    kill_at: int = 1  # the n-th time the step is reached in this process
    kill_after_s: float | None = None  # or a delay after the extractor starts
    recreate_at_rows: int | None = None  # delete and create the topic once this many are stored

    def start(self) -> subprocess.Popen[bytes]:
        """This job in a new Python process (the test's interpreter, from the project root)."""
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.child", json.dumps(asdict(self))],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _stored(warehouse: str, table: str) -> int:
    from ownlens_pipelines.warehouse import Warehouse

    return Warehouse(warehouse).count(f"raw.{table}")


def _recreate(config: KafkaConfig, spec: StreamSpec) -> None:
    """Delete the stream's topic and create it again (a new incarnation, offsets from 0)."""
    from confluent_kafka.admin import AdminClient

    from ownlens_kafka.topics import create_topics
    from tests.conftest import wait_for

    admin = AdminClient({"bootstrap.servers": config.bootstrap_servers})
    topic = config.topic_name(spec.topic)
    for future in admin.delete_topics([topic], operation_timeout=10).values():
        future.result()
    wait_for(lambda: topic not in admin.list_topics(timeout=5).topics, what="topic deleted")
    create_topics(config, [spec])


def main(job: Job) -> None:
    from ownlens_kafka.config import KafkaConfig
    from ownlens_kafka.streams import get_stream
    from ownlens_pipelines.etl import KafkaExtractor
    from ownlens_pipelines.settings import ETLConfig
    from ownlens_pipelines.warehouse import Warehouse

    spec = get_stream(job.stream)
    etl = ETLConfig(
        kafka=KafkaConfig.model_validate_json(job.kafka),
        warehouse=job.warehouse,
        batch_size=job.batch_size,
        idle_timeout=job.idle_timeout,
    )
    reached = 0

    def on_step(step: str) -> None:
        nonlocal reached
        recreate = job.recreate_at_rows
        at_rows = step == "rows" and recreate is not None and reached == 0
        if at_rows and _stored(etl.warehouse, spec.name) >= (recreate or 0):
            reached = 1
            _recreate(etl.kafka, spec)
        if step == job.kill_step:
            reached += 1
            if reached == job.kill_at:
                _die()

    extractor = KafkaExtractor(spec, etl, group_id=job.group_id, on_step=on_step)
    if job.kill_after_s is not None:
        timer = threading.Timer(job.kill_after_s, _die)
        timer.daemon = True  # a run that ends first exits normally: that kill did not happen
        timer.start()
    if job.mode == "run":
        result = extractor.run()
        print(json.dumps({"rows_written": result.rows_written, "caught_up": result.caught_up}))
        return
    Warehouse(etl.warehouse).ensure_raw_table(spec)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    result = extractor.follow(stop)
    print(json.dumps({"rows_written": result.rows_written, "dead_lettered": result.dead_lettered}))


if __name__ == "__main__":
    main(Job(**json.loads(sys.argv[1])))
