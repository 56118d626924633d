"""The `ownlens` command end to end: run, dlq, and clear errors for user mistakes."""

from __future__ import annotations

import json

from click.testing import CliRunner
from confluent_kafka import Producer

import ownlens_pipelines.cli  # noqa: F401  (adds run, stream and dev to `cli`)
from ownlens_kafka import STREAMS, get_stream, reset_config
from ownlens_kafka.broker import free_port
from ownlens_kafka.cli import cli
from ownlens_kafka.dlq import list_dead_letters
from ownlens_kafka.generator import generate
from ownlens_kafka.lag import group_lag, stream_groups
from tests.factories import valid_payload
from tests.helpers import delta_count, header_map, read_topic

KafkaHeaders = list[tuple[str, str | bytes | None]]


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def raw_counts(warehouse: str) -> dict[str, int]:
    return {s.name: delta_count(warehouse, f"raw.{s.name}") for s in STREAMS}


def test_ownlens_run_ingests_exactly_the_valid_records(env, kafka_config) -> None:
    stats = generate(kafka_config, count=400, seed=11, invalid_ratio=0.1)
    assert stats.invalid > 0
    first = invoke("run")
    assert first.exit_code == 0, first.output
    counts = raw_counts(env["OWNLENS_WAREHOUSE"])
    domain = delta_count(env["OWNLENS_WAREHOUSE"], "customer.daily_engagement")
    assert counts == {name: c.valid for name, c in stats.streams.items()} | {
        s.name: 0 for s in STREAMS if s.name not in stats.streams
    }
    assert domain > 0
    for spec in STREAMS:
        dead = list_dead_letters(kafka_config, spec)
        assert len(dead) == stats.streams[spec.name].invalid if spec.name in stats.streams else 0
        assert all(
            d.error and d.error_type in {"DeserializationError", "ValidationError"} for d in dead
        )
    lags = group_lag(kafka_config, stream_groups(kafka_config, STREAMS))
    assert sum(p.lag for p in lags) == 0
    assert "user_events" in first.stdout and "lag after" in first.stdout
    second = invoke("run", "--json", "--quiet")
    assert second.exit_code == 0, second.output
    assert raw_counts(env["OWNLENS_WAREHOUSE"]) == counts
    summary = json.loads(second.stdout)
    assert summary["ok"] is True and summary["failures"] == [] and summary["assets"] > 0
    assert {s["stream"] for s in summary["streams"]} == {s.name for s in STREAMS}
    assert all(s["consumed"] == 0 and s["lag_after"] == 0 for s in summary["streams"])
    assert second.stderr == ""  # --quiet: no progress


def test_lag_names_group_and_topic_as_on_the_cluster(env, kafka_config) -> None:
    namespace = kafka_config.namespace  # `t<hex>.`
    generate(kafka_config, count=50, seed=5, streams=["sessions"])
    for given in (namespace, namespace.rstrip(".")):  # the separator is added when missing
        reset_config()
        result = invoke("lag", "sessions", "--json", env={"KAFKA_NAMESPACE": given})
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)["partitions"]
        assert {r["group"] for r in rows} == {f"{namespace}session-consumer-group"}
        assert {r["topic"] for r in rows} == {f"{namespace}customer-sessions"}
        assert sum(r["lag"] for r in rows) == json.loads(result.stdout)["total_lag"] == 50
        assert set(rows[0]) == {"stream", "group", "topic", "partition", "committed", "end", "lag"}
    table = invoke("lag", "sessions")
    assert f"{namespace}session-consumer-group" in table.stdout
    assert f"{namespace}customer-sessions" in table.stdout
    assert "total lag: 50" in table.stdout


def test_dlq_list_and_replay(env, kafka_config) -> None:
    spec = get_stream("audit_logs")
    topic = kafka_config.topic_name(spec.topic)
    raw = Producer(kafka_config.producer_config())
    raw.produce(topic, b"not json", key=b"bad")
    raw.produce(topic, json.dumps(valid_payload(spec.model)).encode(), key=b"good")
    assert raw.flush(10) == 0
    assert invoke("run").exit_code == 0
    listed = invoke("dlq", "list", "audit_logs")
    assert listed.exit_code == 0 and "DeserializationError" in listed.output
    # a record that is valid today (say, after a model fix) sits in the dead-letter topic too
    fixed = json.dumps(valid_payload(spec.model)).encode()
    for _ in range(2):  # written twice, as when a batch is retried after a crash
        raw.produce(
            f"{topic}-dlq",
            fixed,
            key=b"fixed",
            headers=[
                ("dlq.error", b"old model"),
                ("dlq.source_topic", topic.encode()),
                ("dlq.source_partition", b"0"),
                ("dlq.source_offset", b"41"),
            ],
        )
    assert raw.flush(10) == 0
    replayed = invoke("dlq", "replay", "audit_logs")
    assert replayed.exit_code == 1, replayed.output  # a letter still fails
    assert "1 record(s) re-published, 1 still failing" in replayed.stdout
    assert "1 duplicate letter(s) skipped" in replayed.stdout
    dead = read_topic(kafka_config, f"{topic}-dlq", 4)  # bad, the fixed pair, bad again
    assert len(dead) == 4
    retried = [m for m in dead if header_map(m).get("dlq.attempts") == b"2"]
    assert len(retried) == 1 and retried[0].value() == b"not json"
    again = invoke("dlq", "replay", "audit_logs")
    assert "0 record(s) re-published, 1 still failing" in again.stdout
    assert again.exit_code == 1
    assert len(read_topic(kafka_config, topic, 3)) == 3  # bad, good and the re-published one


def test_dlq_tools_survive_hostile_letters(env, kafka_config) -> None:
    spec = get_stream("articles")
    dead_topic = kafka_config.topic_name(spec.dlq_topic)
    raw = Producer(kafka_config.producer_config())
    valid = json.dumps(valid_payload(spec.model)).encode()
    source: KafkaHeaders = [("dlq.source_partition", b"0")]
    letters: list[tuple[bytes, bytes, KafkaHeaders]] = [
        (b"evil\narticles  0@99  forged \x1b[2J", b"{}", [("dlq.error", b"x\n\x1b]0;t\x07")]),
        (b"\xff\xfe binary key", valid, [*source, ("dlq.source_offset", b"1")]),
        (b"k3", valid, [*source, ("dlq.source_offset", "\u00b2".encode())]),  # isdigit, not int
        (b"k4", valid, [*source, ("dlq.source_offset", b"4")]),
    ]
    for key, value, headers in letters:
        raw.produce(dead_topic, value, key=key, headers=headers, partition=0)
    assert raw.flush(10) == 0
    listed = invoke("dlq", "list", "articles")
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.stdout.splitlines() if line.startswith("articles")]
    assert len(rows) == 4  # the newline forged no row
    assert "\x1b" not in listed.output and "evil\\narticles" in listed.stdout
    assert "\\xff\\xfe binary key" in listed.stdout
    as_json = json.loads(invoke("dlq", "list", "articles", "--json").stdout)["dead_letters"]
    assert as_json[0]["key"] == "evil\narticles  0@99  forged \x1b[2J"
    assert set(as_json[0]) >= {"stream", "partition", "offset", "key", "error_type", "error"}
    replayed = invoke("dlq", "replay", "articles")
    assert replayed.exit_code == 1, replayed.output
    assert "1 record(s) re-published, 1 still failing" in replayed.stdout
    assert "2 unreadable (skipped)" in replayed.stdout
    assert "its key is not UTF-8 text" in replayed.stdout
    assert "its header dlq.source_offset is not a number" in replayed.stdout
    assert "Traceback" not in replayed.output and "\x1b" not in replayed.output
    assert invoke("dlq", "replay", "articles").stdout.startswith(
        "articles: 0 record(s) re-published, 1 still failing"  # the invalid one, dead again
    )


def test_user_mistakes_get_one_clear_line() -> None:
    unknown = CliRunner().invoke(cli, ["lag", "nope"])
    assert unknown.exit_code == 2 and "unknown stream 'nope'" in unknown.output
    bad_option = CliRunner().invoke(cli, ["generate", "--invalid-ratio", "2"])
    assert bad_option.exit_code == 2 and "--invalid-ratio" in bad_option.output
    closed = {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    reset_config()
    try:
        unreachable = CliRunner().invoke(cli, ["topics", "list"], env=closed)
    finally:
        reset_config()
    assert unreachable.exit_code == 1
    assert "cannot reach Kafka at 127.0.0.1" in unreachable.output
    assert "Traceback" not in unreachable.output
    missing = CliRunner().invoke(cli, ["dlq", "replay", "nope"])
    assert missing.exit_code == 2 and "unknown stream 'nope'" in missing.output
