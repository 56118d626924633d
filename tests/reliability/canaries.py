"""Canary secrets and personal values, the invalid events that carry them, and the grep.

Each canary is a string found nowhere else, so one hit anywhere it must not be is a leak. The
personal values sit in the fields the models mark sensitive (IP addresses, user agents, URLs
with a token, e-mail addresses inside free-form dicts) of records that are invalid *because of*
that field, which is when an error message is tempted to quote it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ownlens_kafka.streams import StreamSpec, get_stream
from tests.factories import valid_payload

SECRETS = {
    "KAFKA_SASL_PASSWORD": "canary-sasl-password-Qm4v",
    "KAFKA_SSL_KEY_PASSWORD": "canary-ssl-key-password-Zt8w",
}
# librdkafka settings holding a secret that a PLAINTEXT client accepts (and ignores)
EXTRA_SECRETS = {
    "ssl.key.pem": "-----BEGIN PRIVATE KEY----- canary-pem-Hx3k",
    "sasl.oauthbearer.config": "principal=canary-oauth-config-Lp6r",
    "sasl.oauthbearer.client.secret": "canary-client-secret-Vb2n",
}
CONSUMER_EXTRA_SECRETS = {"ssl.keystore.password": "canary-keystore-password-Wd5s"}
# librdkafka refuses this one (Java only): used where no client is made, and as a user error
JAAS = {"sasl.jaas.config": "org.apache.kafka.common.security.plain canary-jaas-Rc7y"}

EMAIL = "canary.reader.7f3a@example.org"
IP = "198.51.100.203"
USER_AGENT = "CanaryBrowser/9.9-7f3a"
TOKEN = "CANARYTOKEN7f3a"

PII_NEEDLES = (EMAIL, IP, USER_AGENT, TOKEN)
SECRET_NEEDLES = (
    *SECRETS.values(),
    "canary-pem-Hx3k",
    "canary-oauth-config-Lp6r",
    "canary-client-secret-Vb2n",
    "canary-keystore-password-Wd5s",
    "canary-jaas-Rc7y",
)
NEEDLES = (*PII_NEEDLES, *SECRET_NEEDLES)


def secret_environment(with_jaas: bool = False) -> dict[str, str]:
    """`KAFKA_*` variables carrying every secret canary."""
    extra = EXTRA_SECRETS | (JAAS if with_jaas else {})
    return {
        **SECRETS,
        "KAFKA_EXTRA": json.dumps(extra),
        "KAFKA_CONSUMER_EXTRA": json.dumps(CONSUMER_EXTRA_SECRETS),
    }


def hits(*texts: str | bytes | None) -> Counter[str]:
    """How often each canary occurs in the texts (bytes searched as UTF-8 and as escaped)."""
    found: Counter[str] = Counter()
    for text in texts:
        if text is None:
            continue
        data = text.encode(errors="surrogatepass") if isinstance(text, str) else text
        for needle in NEEDLES:
            count = data.count(needle.encode())
            if count:
                found[needle] += count
    return found


def _deep(value: Any, depth: int) -> Any:
    for level in range(depth):
        value = {f"level{level}": value}
    return value


def invalid_payloads() -> list[tuple[StreamSpec, dict[str, Any]]]:
    """Events of several streams, each invalid because of a field that holds a canary."""
    security = get_stream("security_events")
    audit = get_stream("audit_logs")
    users = get_stream("user_events")
    compliance = get_stream("compliance_events")
    predictions = get_stream("model_predictions")
    too_long_agent = f"{USER_AGENT} " + "x" * 10_001
    deep_email = _deep({"contact": EMAIL, "ip": IP}, 6)
    large_email = {"contact": EMAIL, "pad": "\x00" * 12_000}
    items: list[tuple[StreamSpec, dict[str, Any]]] = [
        (security, {"ip_address": f"{IP}.9"}),
        (security, {"ip_address": f"{IP}/{TOKEN}"}),
        (security, {"user_agent": too_long_agent}),
        (security, {"user_agent": 12345, "description": f"{USER_AGENT} {EMAIL}", "success": "x"}),
        (security, {"metadata": deep_email}),
        (security, {"event_data": large_email}),
        (security, {"event_data": {EMAIL: _deep(1, 6)}}),
        (security, {"email": EMAIL}),
        (security, {"event_type": "TELEPORT", "ip_address": IP, "user_agent": USER_AGENT}),
        (audit, {"ip_address": f"{IP}:8080"}),
        (audit, {"user_agent": too_long_agent}),
        (audit, {"request_data": deep_email}),
        (audit, {"endpoint": f"/api?token={TOKEN}&email={EMAIL}" + "/" * 600}),
        (users, {"page_url": f"https://canary example.org/a?token={TOKEN}"}),
        (users, {"page_url": f"ftp://example.org/a?token={TOKEN}&u={EMAIL}"}),
        (users, {"engagement_metrics": deep_email}),
        (users, {"referrer": f"https://example.org/?token={TOKEN}" + "r" * 300}),
        (compliance, {"data_export_url": f"https://x.example.org/e.zip?token={TOKEN} "}),
        (predictions, {"input_features": {"email": EMAIL, "bad": float("inf")}}),
    ]
    return [(spec, valid_payload(spec.model, **fields)) for spec, fields in items]


def encoded(payload: Mapping[str, Any]) -> bytes:
    """JSON as a producer that skips validation would write it (non-finite floats as is)."""
    return json.dumps(payload, ensure_ascii=False).encode()


def leak_report(sinks: Mapping[str, Iterable[str | bytes | None]]) -> dict[str, dict[str, int]]:
    """sink -> canary -> hits, for the sinks where any canary was found."""
    report = {}
    for sink, texts in sinks.items():
        found = hits(*texts)
        if found:
            report[sink] = dict(found)
    return report
