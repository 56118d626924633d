"""A 1M-event backlog (1 KB `UserEventCreate`, 1 % invalid) into a warehouse, side by side:

- the KafkaExtractor into the Delta warehouse (validated, each write one Delta commit recording
  its offsets, offsets committed after each write, invalid records dead-lettered);
- the best unvalidated landing a user would write by hand, into a DuckDB file: a fresh group,
  batches of 10k, the raw values as one Arrow string column typed by DuckDB's `json_transform`
  inside the INSERT, checkpoints spaced out, a commit after each batch;
- raw confluent-kafka consume of the same records, with librdkafka's defaults and with the
  project's consumer settings.

Every measurement runs in a child process (its own peak RSS and CPU time) and counts the group
join; medians over the rounds, ratios from the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any, cast

from _common import broker_config, payloads
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from ownlens_kafka import KafkaConfig, UserEventProducer, create_topics, get_stream

SPEC = get_stream("user_events")
LANDING_BATCH = 10_000
CHECKPOINT_EVERY = 100_000


def fill(config: KafkaConfig, count: int, invalid_every: int = 100, partitions: int = 6) -> None:
    """`count` user events (20k distinct payloads, cycled), every `invalid_every`-th invalid,
    on a topic of `partitions` partitions."""
    admin = AdminClient(config.connection_config())
    topic = config.topic_name(SPEC.topic)
    for future in admin.create_topics([NewTopic(topic, partitions)]).values():
        future.result()
    create_topics(config)
    producer = UserEventProducer(config)
    encoded = [producer.encode(producer.validate(p)) for p in payloads(SPEC.model, 20_000)]
    invalid = [
        b"{not json",
        json.dumps(payloads(SPEC.model, 1)[0] | {"user_id": "nobody"}).encode(),
        json.dumps(payloads(SPEC.model, 1)[0] | {"event_type": "teleport"}).encode(),
    ]
    raw, topic, headers = Producer(config.producer_config()), producer.topic, producer.headers()
    for i in range(count):
        value = invalid[i % len(invalid)] if i % invalid_every == 0 else encoded[i % len(encoded)]
        while True:
            try:
                raw.produce(topic, value, str(i % 5000), headers=headers)
                break
            except BufferError:
                raw.poll(0.05)
    assert raw.flush(120) == 0


def extract(config: KafkaConfig, count: int) -> dict[str, Any]:
    from ownlens_pipelines.etl import KafkaExtractor
    from ownlens_pipelines.settings import ETLConfig

    with tempfile.TemporaryDirectory() as directory:
        etl = ETLConfig(kafka=config, warehouse=f"{directory}/lake")
        result = KafkaExtractor(SPEC, etl, group_id=f"bench-{uuid.uuid4().hex}").run()
    assert result.rows_written + result.dead_lettered == count, result
    first, last = _cost_per_row(result.write_costs[:]), _cost_per_row(result.write_costs[::-1])
    return {
        "rows": result.rows_written,
        "dead_lettered": result.dead_lettered,
        "slow_path": result.slow_path,
        "write_us_first_100k": first,
        "write_us_last_100k": last,
    }


def extract_shared(config: KafkaConfig, count: int) -> dict[str, Any]:
    """One of several extractors in one group, into one warehouse (named by the parent)."""
    from ownlens_pipelines.etl import KafkaExtractor
    from ownlens_pipelines.settings import ETLConfig

    etl = ETLConfig(kafka=config, warehouse=os.environ["BENCH_WAREHOUSE"], idle_timeout=3)
    began = time.time()
    result = KafkaExtractor(SPEC, etl, group_id=os.environ["BENCH_GROUP"]).run()
    return {
        "rows": result.rows_written,
        "dead_lettered": result.dead_lettered,
        "began": began,
        "ended": time.time(),
    }


def extract_together(config: KafkaConfig, count: int, processes: int) -> dict[str, Any]:
    """`processes` extractors sharing the partitions: events/s from the first start to the
    last end; every row written once."""
    from ownlens_pipelines.warehouse import Warehouse, raw_table

    with tempfile.TemporaryDirectory() as directory:
        warehouse = Warehouse(f"{directory}/lake")
        warehouse.ensure_raw_table(SPEC)
        env = {"BENCH_WAREHOUSE": warehouse.root, "BENCH_GROUP": f"bench-{uuid.uuid4().hex}"}
        children = [start_child("extractor-shared", config, count, env) for _ in range(processes)]
        outs = [finish_child("extractor-shared", child) for child in children]
        with warehouse.connect([raw_table(SPEC)]) as db:
            row = db.execute(
                "SELECT count(*), count(DISTINCT (_partition, _offset)) FROM raw.user_events"
            ).fetchone()
    assert row is not None and row[0] == row[1], row
    written = sum(o["rows"] for o in outs) + sum(o["dead_lettered"] for o in outs)
    assert written >= count and row[0] == count - sum(o["dead_lettered"] for o in outs), outs
    span = max(o["ended"] for o in outs) - min(o["began"] for o in outs)
    return {
        "events_per_s": count / span,
        "cpu_us_per_record": sum(o["cpu_us_per_record"] * count for o in outs) / count,
        "rss_mb": max(o["rss_mb"] for o in outs),
        "rows": int(row[0]),
    }


def _cost_per_row(costs: list[tuple[int, float]], rows: int = 100_000) -> float:
    """µs per row of the batches that wrote the first `rows` rows of `costs`."""
    taken, seconds = 0, 0.0
    for count, spent in costs:
        if taken >= rows:
            break
        taken, seconds = taken + count, seconds + spent
    return seconds / taken * 1e6 if taken else 0.0


def land(config: KafkaConfig, count: int) -> dict[str, Any]:
    """The unvalidated landing written by hand."""
    import duckdb
    import pyarrow as pa

    structure = json.dumps(
        {name: sql for name, sql in _columns()}  # the same typed columns as the extractor
    ).replace("'", "''")
    client = Consumer(config.consumer_config(f"land-{uuid.uuid4().hex}"))
    topic = config.topic_name(SPEC.topic)
    client.subscribe([topic])
    got, since_checkpoint = 0, 0
    with tempfile.TemporaryDirectory() as directory:
        connection = duckdb.connect(f"{directory}/l.duckdb", config={"checkpoint_threshold": "1GB"})
        connection.execute("SET TimeZone = 'UTC'")
        columns = ", ".join(f'"{name}" {sql}' for name, sql in _columns())
        connection.execute(f"CREATE TABLE events ({columns}, _partition INTEGER, _offset BIGINT)")
        while got < count:
            messages = client.consume(LANDING_BATCH, 1.0)
            messages = [m for m in messages if m.error() is None]
            if not messages:
                continue
            batch = pa.table(
                {
                    "v": pa.array([m.value() for m in messages], pa.string()),
                    "_partition": pa.array([m.partition() for m in messages], pa.int32()),
                    "_offset": pa.array([m.offset() for m in messages], pa.int64()),
                }
            )
            connection.register("batch", batch)
            connection.execute(  # malformed JSON lands as an empty row instead of failing
                "INSERT INTO events SELECT e.*, _partition, _offset FROM (SELECT CASE WHEN "
                f"json_valid(v) THEN json_transform(v, '{structure}') END AS e, * FROM batch)"
            )
            connection.unregister("batch")
            ends = {cast(int, m.partition()): cast(int, m.offset()) + 1 for m in messages}
            client.commit(
                offsets=[TopicPartition(topic, p, o) for p, o in ends.items()], asynchronous=False
            )
            got += len(messages)
            since_checkpoint += len(messages)
            if since_checkpoint >= CHECKPOINT_EVERY:
                connection.execute("CHECKPOINT")
                since_checkpoint = 0
        connection.close()
    client.close()
    return {"rows": got}


def _columns() -> list[tuple[str, str]]:
    from ownlens_pipelines.schema import model_columns

    return [(c.name, c.sql_type) for c in model_columns(SPEC.model)]


def consume(config: KafkaConfig, count: int, settings: str) -> dict[str, Any]:
    group = f"raw-{uuid.uuid4().hex}"
    if settings == "defaults":
        conf: dict[str, Any] = {
            "bootstrap.servers": config.bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
        }
    else:
        conf = config.consumer_config(group)
    client = Consumer(conf)
    client.subscribe([config.topic_name(SPEC.topic)])
    got = 0
    while got < count:
        got += sum(1 for m in client.consume(1_000, 1.0) if m.error() is None)
    client.close()
    return {"rows": got}


def consume_defaults(config: KafkaConfig, count: int) -> dict[str, Any]:
    return consume(config, count, "defaults")


def consume_project(config: KafkaConfig, count: int) -> dict[str, Any]:
    return consume(config, count, "project")


KINDS = {
    "extractor": extract,
    "extractor-shared": extract_shared,
    "landing": land,
    "raw-defaults": consume_defaults,
    "raw-project": consume_project,
}


def child(kind: str, config: KafkaConfig, count: int) -> dict[str, Any]:
    cpu, started = time.process_time(), time.perf_counter()
    out = KINDS[kind](config, count)
    seconds = time.perf_counter() - started
    return {
        **out,
        "events_per_s": count / seconds,
        "cpu_us_per_record": (time.process_time() - cpu) / count * 1e6,
        "rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: after fork and exec that also counts
    the parent's pages at the fork, and the parent holds the whole backlog it produced."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_child(
    kind: str, config: KafkaConfig, count: int, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, "--count", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})},
    )
    assert child.stdin is not None
    child.stdin.write(config.secret_json())
    child.stdin.close()
    child.stdin = None  # written: communicate() only reads
    return child


def finish_child(kind: str, child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate()
    if child.returncode:
        raise SystemExit(f"{kind} failed:\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_child(kind: str, config: KafkaConfig, count: int) -> dict[str, Any]:
    return finish_child(kind, start_child(kind, config, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--partitions", type=int, default=6, help="of the benchmark's topic")
    parser.add_argument("--child", choices=sorted(KINDS))
    args = parser.parse_args()
    if args.child:
        config = KafkaConfig.model_validate_json(sys.stdin.read())
        print(json.dumps(child(args.child, config, args.count)))
        return
    rounds: list[dict[str, dict[str, Any]]] = []
    with broker_config() as base:
        fill(base, args.count, partitions=args.partitions)
        print(f"backlog: {args.count:,} UserEventCreate (~1 KB), 1 % invalid", flush=True)
        for number in range(args.rounds):
            measured = {k: run_child(k, base, args.count) for k in KINDS if k != "extractor-shared"}
            measured["extractor x2"] = extract_together(base, args.count, 2)
            rounds.append(measured)
            rates = ", ".join(f"{k} {v['events_per_s']:,.0f}/s" for k, v in measured.items())
            print(f"round {number + 1}: {rates}", flush=True)
    summarize(rounds, args.count)


def summarize(rounds: list[dict[str, dict[str, Any]]], count: int) -> None:
    def median(kind: str, key: str) -> float:
        return float(statistics.median(float(r[kind][key]) for r in rounds))

    def ratio(kind: str, base: str) -> float:
        return float(
            statistics.median(r[kind]["events_per_s"] / r[base]["events_per_s"] for r in rounds)
        )

    print(f"\nmedians of {len(rounds)} rounds, {count:,} events each (group join included):")
    for kind in rounds[0]:
        print(
            f"  {kind:<13} {median(kind, 'events_per_s'):>9,.0f} events/s   "
            f"CPU {median(kind, 'cpu_us_per_record'):5.1f} µs/record   "
            f"peak RSS {median(kind, 'rss_mb'):4.0f} MB"
        )
    print(
        f"  extractor / landing {ratio('extractor', 'landing'):.2f}x, "
        f"/ raw (defaults) {ratio('extractor', 'raw-defaults'):.2f}x, "
        f"/ raw (project settings) {ratio('extractor', 'raw-project'):.2f}x; "
        f"two extractors / one {ratio('extractor x2', 'extractor'):.2f}x"
    )
    slow = median("extractor", "slow_path")
    first, last = (
        median("extractor", "write_us_first_100k"),
        median("extractor", "write_us_last_100k"),
    )
    print(
        f"  slow path: {slow / count:.2%} of records; dead-lettered "
        f"{median('extractor', 'dead_lettered'):,.0f}; warehouse write first 100k "
        f"{first:.1f} µs/row, last 100k {last:.1f} µs/row ({last / first:.2f}x)"
    )


if __name__ == "__main__":
    main()
