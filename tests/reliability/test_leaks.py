"""Canary secrets and canary personal values pushed through every path, then every output, log,
Dagster storage file, warehouse and dead-letter header grepped: no canary may be found, except
in the dead-letter payload (the raw record stays intact there; access is the topic's ACL).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import dagster as dg
import pyarrow as pa
import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Message
from deltalake import DeltaTable, QueryBuilder

import ownlens_pipelines.cli  # noqa: F401  (adds run, stream and dev to `cli`)
from ownlens_kafka import reset_config
from ownlens_kafka.cli import cli
from ownlens_kafka.config import KafkaConfig, read_settings
from ownlens_kafka.consumer import BaseKafkaConsumer
from ownlens_kafka.errors import EventValidationError
from ownlens_kafka.producer import BaseKafkaProducer
from ownlens_kafka.streams import STREAMS, StreamSpec
from ownlens_pipelines.etl import KafkaExtractor
from ownlens_pipelines.resources import KafkaResource
from ownlens_pipelines.settings import ETLConfig
from tests.reliability.canaries import (
    CONSUMER_EXTRA_SECRETS,
    EXTRA_SECRETS,
    IP,
    JAAS,
    PII_NEEDLES,
    SECRET_NEEDLES,
    SECRETS,
    encoded,
    hits,
    invalid_payloads,
    leak_report,
    secret_environment,
)
from tests.reliability.figures import Figures
from tests.reliability.hostile import STANDARD_HEADERS
from tests.reliability.oracle import raw_producer, read_all

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]

Sinks = dict[str, list[str | bytes | None]]
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # storage keeps all


def texts_of_error(error: BaseException) -> list[str | bytes | None]:
    """Everything an error shows: its message, repr, traceback, and structured details."""
    shown: list[str | bytes | None] = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
    ]
    if isinstance(error, EventValidationError):
        shown.append(json.dumps(error.errors, default=repr))
    return shown


def letter_headers(messages: list[Message]) -> list[str | bytes | None]:
    """Every header name and value of the letters: not their payload or key."""
    found: list[str | bytes | None] = []
    for message in messages:
        for name, value in cast(list[tuple[str, bytes | None]], message.headers() or []):
            found += [name, value]
    return found


def warehouse_texts(root: str) -> list[str | bytes | None]:
    """The bytes of every file under the warehouse root (Parquet data, Delta logs with their
    column statistics), and every value of every Delta table there as text."""
    found = files_under(Path(root))
    logs = sorted(Path(root).glob("*/*/_delta_log"))
    assert logs, f"no Delta table under {root}"
    for log in logs:
        table = DeltaTable(str(log.parent))
        rows = QueryBuilder().register("t", table).execute("SELECT * FROM t").read_all()
        found.append(repr(pa.table(rows).to_pylist()))
    return found


def files_under(root: Path) -> list[str | bytes | None]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


def record_leaks(figures: Figures, section: str, sinks: Sinks, **more: Any) -> dict[str, Any]:
    report = leak_report(sinks)
    figures.record(
        section,
        leaks=sum(sum(found.values()) for found in report.values()),
        sinks=sorted(sinks),
        leaks_by_sink=report,
        **more,
    )
    return report


@pytest.fixture
def canary_env(
    kafka_config: KafkaConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """A deployment's environment with every secret canary set (a PLAINTEXT broker ignores
    them), its own namespace, warehouse and Dagster home."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    values = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_config.bootstrap_servers,
        "KAFKA_NAMESPACE": kafka_config.namespace,
        "KAFKA_SESSION_TIMEOUT_MS": str(kafka_config.session_timeout_ms),
        "KAFKA_HEARTBEAT_INTERVAL_MS": str(kafka_config.heartbeat_interval_ms),
        "OWNLENS_WAREHOUSE": str(tmp_path / "lake"),
        "OWNLENS_IDLE_TIMEOUT": "5",
        "DAGSTER_HOME": str(home),
        **secret_environment(),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_config()
    yield values
    reset_config()


def test_configuration_and_resources_never_show_a_secret(figures: Figures, monkeypatch) -> None:
    sinks: Sinks = {}
    extra = EXTRA_SECRETS | JAAS
    config = KafkaConfig(
        sasl_password=SECRETS["KAFKA_SASL_PASSWORD"],
        ssl_key_password=SECRETS["KAFKA_SSL_KEY_PASSWORD"],
        extra=extra,
        producer_extra=extra,
        consumer_extra=CONSUMER_EXTRA_SECRETS,
    )
    etl = ETLConfig(kafka=config, warehouse="w-lake")
    shown: tuple[tuple[str, KafkaConfig | ETLConfig], ...] = (
        ("KafkaConfig", config),
        ("ETLConfig", etl),
    )
    for name, value in shown:
        sinks[name] = [
            repr(value),
            str(value),
            repr(value.model_dump()),
            value.model_dump_json(),
            json.dumps(value.model_dump(mode="json")),
        ]
    for variable, text in secret_environment(with_jaas=True).items():
        monkeypatch.setenv(variable, text)
    from_env = read_settings(KafkaConfig)
    sinks["KafkaConfig from KAFKA_*"] = [repr(from_env), str(from_env), from_env.model_dump_json()]
    monkeypatch.setenv("KAFKA_SESSION_TIMEOUT_MS", "not a number")
    try:
        read_settings(KafkaConfig)
    except Exception as exc:  # the user error beside the secrets
        sinks["config error"] = texts_of_error(exc)
    monkeypatch.delenv("KAFKA_SESSION_TIMEOUT_MS")
    resource = KafkaResource(
        bootstrap_servers="127.0.0.1:9092",
        sasl_password=SECRETS["KAFKA_SASL_PASSWORD"],
        ssl_key_password=SECRETS["KAFKA_SSL_KEY_PASSWORD"],
    )
    sinks["KafkaResource"] = [
        repr(resource),
        str(resource),
        repr(resource.model_dump()),
        resource.model_dump_json(),
        repr(resource.kafka_config()),
    ]
    report = record_leaks(figures, "leaks_configuration", sinks)
    # the canaries are there: in clear only where librdkafka takes them
    assert set(hits(repr(config.producer_config() | config.consumer_config()))) >= set(
        SECRET_NEEDLES
    )
    assert report == {}


def test_rejected_values_stay_in_the_dead_letter_payload(
    canary_env: dict[str, str],
    kafka_config: KafkaConfig,
    make_topics,
    figures: Figures,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    make_topics()
    config = read_settings(KafkaConfig)  # with every secret canary
    payloads = invalid_payloads()
    sinks: Sinks = {"publish": [], "publish_batch": []}
    not_rejected = 0
    for spec, payload in payloads:
        producer: BaseKafkaProducer[Any]
        with BaseKafkaProducer(config, stream=spec) as producer:
            try:
                producer.publish(payload)
                not_rejected += 1
            except Exception as exc:
                sinks["publish"] += texts_of_error(exc)
            batch = producer.publish_batch([payload])
            sinks["publish_batch"] += [repr(batch), *(f.reason for f in batch.failures)]
    raw = raw_producer(config)
    for spec, payload in payloads:
        raw.produce(
            config.topic_name(spec.topic),
            encoded(payload),
            b"canary-key",
            headers=list(STANDARD_HEADERS),
        )
    assert raw.flush(30) == 0
    streams = sorted({spec.name for spec, _ in payloads})
    specs = [spec for spec in STREAMS if spec.name in streams]
    etl = read_settings(ETLConfig)
    sinks["extractor metadata"] = []
    dead_lettered = 0
    for spec in specs:
        result = KafkaExtractor(spec, etl).run()
        dead_lettered += result.dead_lettered
        sinks["extractor metadata"].append(json.dumps(result.metadata(), default=repr))
    library = specs[0]
    consumer: BaseKafkaConsumer[Any]
    with BaseKafkaConsumer(config, group_id="canary-library", stream=library) as consumer:
        handed_out = len(consumer.consume_batch(500, 5.0))
        consumer.commit()
        sinks["library consumer"] = [repr(consumer.stats)]
    letters = [m for spec in specs for m in read_all(config, config.topic_name(spec.dlq_topic))]
    sinks["dead-letter headers"] = letter_headers(letters)
    sinks["logs"] = [
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text}" for r in caplog.records
    ]
    sinks["warehouse"] = warehouse_texts(etl.warehouse)
    report = record_leaks(
        figures,
        "leaks_rejected_values",
        sinks,
        invalid_events=len(payloads),
        not_rejected_by_publish=not_rejected,
        dead_lettered=dead_lettered,
        letters=len(letters),
        handed_out_by_library=handed_out,
        log_records=len(caplog.records),
    )
    assert not_rejected == 0 and dead_lettered == len(payloads) and handed_out == 0
    # the canaries did travel: intact in the dead-letter payloads, where they belong
    assert set(hits(*(m.value() for m in letters))) >= set(PII_NEEDLES)
    assert report == {}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    reset_config()  # the command reads the environment it is given
    try:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)
    finally:
        reset_config()


def cli_texts(result: Result) -> list[str | bytes | None]:
    shown: list[str | bytes | None] = [result.output, result.stderr_bytes or b""]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        shown += texts_of_error(result.exception)
    return shown


def materialize_raw(spec: StreamSpec) -> dg.ExecuteInProcessResult:
    """`raw/<stream>` materialized in process with the code location's resources (bound to the
    environment as a deployment binds them) on the DAGSTER_HOME instance."""
    from ownlens_pipelines.definitions import defs as load

    asset = load().resolve_assets_def(dg.AssetKey(["raw", spec.name]))
    return dg.materialize(
        [asset], instance=dg.DagsterInstance.get(), raise_on_error=False, run_config=QUIET
    )


def test_dagster_storage_and_command_output_hold_no_canary(
    canary_env: dict[str, str],
    make_topics,
    figures: Figures,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    make_topics()
    config = read_settings(KafkaConfig)
    payloads = invalid_payloads()
    raw = raw_producer(config)
    for spec, payload in payloads:
        raw.produce(config.topic_name(spec.topic), encoded(payload), b"canary-key")
    assert raw.flush(30) == 0
    spec = payloads[0][0]  # security_events: IP addresses, user agents, free-form dicts
    sinks: Sinks = {}
    result = materialize_raw(spec)
    metadata = [
        repr(event.step_materialization_data.materialization.metadata)
        for event in result.get_asset_materialization_events()
    ]
    failures = [repr(event.event_specific_data) for event in result.get_step_failure_events()]
    sinks["dagster result"] = [*metadata, *failures]
    sinks["dagster storage"] = files_under(Path(canary_env["DAGSTER_HOME"]))
    outputs = {
        "dlq list": invoke("dlq", "list"),
        "dlq list --json": invoke("dlq", "list", "--json"),
        "lag": invoke("lag"),
        "lag --json": invoke("lag", "--json"),
        "user error: unknown librdkafka key": invoke(
            "lag", env={"KAFKA_EXTRA": json.dumps(EXTRA_SECRETS | JAAS)}
        ),
        "user error: bad number": invoke("lag", env={"KAFKA_SESSION_TIMEOUT_MS": "soon"}),
    }
    for name, output in outputs.items():
        sinks[f"cli {name}"] = cli_texts(output)
    sinks["logs"] = [
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text}" for r in caplog.records
    ]
    report = record_leaks(
        figures,
        "leaks_dagster_and_cli",
        sinks,
        materialized=result.success,
        cli_exit_codes={name: output.exit_code for name, output in outputs.items()},
    )
    assert result.success, failures
    assert [outputs[n].exit_code for n in ("dlq list", "lag")] == [0, 0]
    assert all(outputs[n].exit_code == 2 for n in outputs if n.startswith("user error"))
    assert report == {}


def test_the_debugging_switch_is_what_shows_a_rejected_value(
    kafka_config: KafkaConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grep can see a leak: with OWNLENS_SHOW_VALUES=1 (local debugging) the same error
    that hides the value by default shows it."""
    spec, payload = invalid_payloads()[0]  # an IP address that is not one
    producer: BaseKafkaProducer[Any] = BaseKafkaProducer(kafka_config, stream=spec)
    shown: dict[str, list[str | bytes | None]] = {}
    for switch in ("0", "1"):
        monkeypatch.setenv("OWNLENS_SHOW_VALUES", switch)
        with pytest.raises(EventValidationError) as caught:
            producer.validate(payload)
        shown[switch] = texts_of_error(caught.value)
    assert hits(*shown["0"]) == {}
    assert set(hits(*shown["1"])) >= {IP}
