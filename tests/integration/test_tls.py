"""Mutual TLS, configured only through `KAFKA_*` variables, against a TLS endpoint.

The embedded broker speaks plaintext only, so a proxy in front of it terminates TLS: it shows a
certificate signed by a test CA and requires a client certificate signed by the same CA.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from ownlens_kafka import UserEventConsumer, UserEventProducer, get_stream, reset_config
from ownlens_kafka.broker import FAST_GROUP_SETTINGS
from ownlens_kafka.config import KafkaConfig
from ownlens_kafka.topics import create_topics, list_topics
from tests.factories import valid_payload
from tests.helpers import drain
from tests.proxy import Proxy, behind_proxy

SPEC = get_stream("user_events")
KEY_PASSWORD = "client-key-passphrase"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
    reason="needs a broker that advertises the proxy's address: the embedded one",
)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def certificates(directory: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate with an encrypted key."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    openssl("req", "-x509", *ec, "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=ownlens-test-ca", cwd=directory)  # fmt: skip
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, key_options in (
        ("server", ["-nodes"]),
        ("client", ["-passout", f"pass:{KEY_PASSWORD}"]),
    ):
        openssl("req", *ec, *key_options, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN=ownlens-{name}", cwd=directory)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
                *(["-extfile", "san.cnf"] if name == "server" else []), cwd=directory)  # fmt: skip
    return directory


@pytest.fixture(scope="module")
def tls_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, Path]]:
    certs = certificates(tmp_path_factory.mktemp("certs"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs / "ca.pem"))
    server.load_cert_chain(certs / "server.pem", certs / "server.key")
    server.verify_mode = ssl.CERT_REQUIRED
    with behind_proxy(tls=server) as endpoint:
        yield endpoint, certs


@pytest.fixture
def tls_env(tls_endpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    endpoint, certs = tls_endpoint
    values = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{endpoint.port}",
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CA_LOCATION": str(certs / "ca.pem"),
        "KAFKA_SSL_CERTIFICATE_LOCATION": str(certs / "client.pem"),
        "KAFKA_SSL_KEY_LOCATION": str(certs / "client.key"),
        "KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
        "KAFKA_SESSION_TIMEOUT_MS": str(FAST_GROUP_SETTINGS["session_timeout_ms"]),
        "KAFKA_HEARTBEAT_INTERVAL_MS": str(FAST_GROUP_SETTINGS["heartbeat_interval_ms"]),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_config()
    yield values
    reset_config()


def test_produce_and_consume_over_mutual_tls(tls_env, tls_endpoint) -> None:
    endpoint, _ = tls_endpoint
    config = KafkaConfig()
    create_topics(config, [SPEC])
    with UserEventProducer() as producer:  # the global config: the environment's
        sent = {producer.publish(valid_payload(SPEC.model)).event_id for _ in range(20)}
    with UserEventConsumer() as consumer:
        received = {item.event.event_id for item in drain(consumer, 20)}
        consumer.commit()
    assert received == sent
    assert endpoint.accepted > 0


def test_a_client_without_a_certificate_is_refused(tls_env, tls_endpoint, monkeypatch) -> None:
    endpoint, _ = tls_endpoint
    monkeypatch.delenv("KAFKA_SSL_CERTIFICATE_LOCATION")
    monkeypatch.delenv("KAFKA_SSL_KEY_LOCATION")
    accepted_before = endpoint.accepted
    with pytest.raises(KafkaException):
        list_topics(KafkaConfig(), timeout=3)
    assert endpoint.accepted == accepted_before  # no handshake succeeded


def test_a_wrong_key_password_fails_at_once_naming_the_key(tls_env, monkeypatch) -> None:
    monkeypatch.setenv("KAFKA_SSL_KEY_PASSWORD", "not-the-passphrase")
    with pytest.raises(KafkaException, match=r"ssl\.key"):
        list_topics(KafkaConfig(), timeout=3)
