"""Every connection cut mid-batch, through the TCP proxy in front of a broker, while hostile
records are extracted and dead-lettered: between the letters and the Delta commit of the rows,
between that commit and the Kafka commit. Whatever fails is retried (a run again, a follower by
itself) and still no row is lost or doubled, and no letter written twice.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ownlens_kafka.broker import FAST_GROUP_SETTINGS
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.streams import get_stream
from ownlens_kafka.topics import create_topics
from ownlens_pipelines.etl import KafkaExtractor
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import Warehouse
from tests.conftest import wait_for
from tests.proxy import Proxy, behind_proxy
from tests.reliability.figures import Figures
from tests.reliability.hostile import Record, batches, generate
from tests.reliability.oracle import (
    Outcome,
    check_stream,
    committed,
    ends_of,
    produce,
    rows_of,
)

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
        reason="needs a broker that advertises the proxy's address: the embedded one",
    ),
]

SPEC = get_stream("compliance_events")
CUTS = {"rows": 3, "letters": 3}  # cuts at each step, one per batch from the first


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[KafkaConfig, Proxy]]:
    with behind_proxy() as proxy:
        yield KafkaConfig(bootstrap_servers=f"127.0.0.1:{proxy.port}", **FAST_GROUP_SETTINGS), proxy


@pytest.fixture(scope="module")
def backlog() -> list[Record]:
    examples = generate(batches((SPEC,), size=(120, 160)), 10)
    return [r for records, _ in examples for r in records if r.size <= 20_000]


class Cutter:
    """An `on_step` that drops every connection at the first steps named in CUTS."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.left = dict(CUTS)
        self.cuts: list[int] = []

    def __call__(self, step: str) -> None:
        if self.left.get(step, 0) > 0:
            self.left[step] -= 1
            self.cuts.append(self.proxy.cut(wait=5.0))


def test_runs_with_connections_cut_at_every_step_lose_and_double_nothing(
    proxied: tuple[KafkaConfig, Proxy], backlog: list[Record], tmp_path: Path, figures: Figures
) -> None:
    base, proxy = proxied
    config = base.model_copy(update={"namespace": "cut-run."})
    create_topics(config, [SPEC])
    sent = produce(config, backlog)
    etl = ETLConfig(kafka=config, warehouse=str(tmp_path / "lake"), batch_size=150, idle_timeout=5)
    cutter = Cutter(proxy)
    errors: list[str] = []
    for _ in range(5):  # as a schedule would: a run that failed is run again
        try:
            result = KafkaExtractor(SPEC, etl, on_step=cutter).run()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            continue
        if result.lag_after == 0 and not any(cutter.left.values()):
            break
    outcome = Outcome()
    check_stream(outcome, config, SPEC, sent, rows_of(etl.warehouse, SPEC))
    figures.record(
        "connection_cuts_run",
        **outcome.figures(),
        faults_injected=sum(1 for c in cutter.cuts if c),
        cuts_without_open_connection=sum(1 for c in cutter.cuts if not c),
        run_errors=errors,
    )
    print(outcome.problems())
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows, outcome.letters) == (
        0,
        0,
        outcome.accepted,
        outcome.rejected,
    )


def test_a_follower_with_connections_cut_at_every_step_loses_and_doubles_nothing(
    proxied: tuple[KafkaConfig, Proxy], backlog: list[Record], tmp_path: Path, figures: Figures
) -> None:
    base, proxy = proxied
    config = base.model_copy(update={"namespace": "cut-follow."})
    create_topics(config, [SPEC])
    etl = ETLConfig(kafka=config, warehouse=str(tmp_path / "lake"), batch_size=150, idle_timeout=5)
    Warehouse(etl.warehouse).ensure_raw_table(SPEC)
    cutter = Cutter(proxy)
    stop, errors = threading.Event(), []

    def follow() -> None:
        try:
            KafkaExtractor(SPEC, etl, on_step=cutter).follow(stop)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")

    worker = threading.Thread(target=follow, name="follow")
    worker.start()
    started = time.monotonic()
    try:
        sent = produce(config, backlog)
        ends = ends_of(sent)

        def done() -> bool:
            try:
                found = committed(config, SPEC.group_id, ends)
            except Exception:  # a probe cut by the proxy: ask again
                return False
            return all(found.get(w, -1) >= e for w, e in ends.items()) or bool(errors)

        wait_for(done, timeout=150, interval=0.5, what="the backlog committed")
    finally:
        stop.set()
        worker.join(60)
    outcome = Outcome()
    check_stream(outcome, config, SPEC, sent, rows_of(etl.warehouse, SPEC))
    figures.record(
        "connection_cuts_follow",
        **outcome.figures(),
        faults_injected=sum(1 for c in cutter.cuts if c),
        follower_errors=errors,
        duration_s=round(time.monotonic() - started, 1),
    )
    print(outcome.problems())
    assert errors == [] and not worker.is_alive()
    assert outcome.problems() == {}
    assert (outcome.lost, outcome.doubled, outcome.rows, outcome.letters) == (
        0,
        0,
        outcome.accepted,
        outcome.rejected,
    )
