"""Kafka TLS and SASL through the project's one client-options function, against a real Apache Kafka broker.

The broker (scripts/local_kafka.py) gets an SSL listener that requires a client certificate, and SASL_SSL and
SASL_PLAINTEXT listeners with SCRAM users stored by the broker's own `kafka-storage format --add-scram` and PLAIN
users in the listener's JAAS line. Certificates are made here with trustme (a CA, the broker's, a client's).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from alertrouter_shared.consumer_loop import ConsumerOptions, make_consumer
from alertrouter_shared.kafka import ensure_topics, kafka_reachable, make_producer, produce_all
from alertrouter_shared.kafka_security import KafkaSecurityError, kafka_client_options
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import TopicSpec
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local_kafka  # noqa: E402
from local_kafka_security import SecureListeners  # noqa: E402

SCRAM_USER, SCRAM_PASSWORD = "alertrouter", "scram-secret-4711"
PLAIN_USER, PLAIN_PASSWORD = "plainuser", "plain-secret-0815"
pytestmark = pytest.mark.kafka


@dataclass
class SecureBroker:
    kafka: local_kafka.LocalKafka
    listeners: SecureListeners
    ca_file: Path
    client_cert: Path
    client_key: Path
    other_ca_file: Path  # a CA that signed nothing the broker presents

    def settings(self, protocol: str, **overrides: Any) -> CommonSettings:
        port = {
            "SSL": self.listeners.ssl_port,
            "SASL_SSL": self.listeners.sasl_ssl_port,
            "SASL_PLAINTEXT": self.listeners.sasl_plaintext_port,
        }[protocol]
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": f"127.0.0.1:{port}",
            "kafka_client_id": f"test-{protocol.lower()}",
            "kafka_security_protocol": protocol,
        }
        if protocol.endswith("SSL"):
            values["kafka_ssl_ca_file"] = str(self.ca_file)
        return CommonSettings(**(values | overrides))


def _pkcs8(key_pem: bytes) -> bytes:
    """Kafka's PEM key store reads PKCS#8 keys only; trustme writes SEC1 ('EC PRIVATE KEY')."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    certs = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    broker = ca.issue_cert("localhost", "127.0.0.1")
    keystore = certs / "broker-keystore.pem"
    keystore.write_bytes(_pkcs8(broker.private_key_pem.bytes()) + b"".join(p.bytes() for p in broker.cert_chain_pems))
    client = ca.issue_cert("alertrouter.client.test")
    client.cert_chain_pems[0].write_to_path(str(certs / "client.pem"))
    client.private_key_pem.write_to_path(str(certs / "client-key.pem"))
    trustme.CA().cert_pem.write_to_path(str(certs / "other-ca.pem"))

    ssl_port, sasl_ssl_port, sasl_plaintext_port = local_kafka.free_ports(3)
    listeners = SecureListeners(
        ssl_port=ssl_port,
        sasl_ssl_port=sasl_ssl_port,
        sasl_plaintext_port=sasl_plaintext_port,
        ca_file=certs / "ca.pem",
        keystore_file=keystore,
        scram_users={SCRAM_USER: SCRAM_PASSWORD},
        plain_users={PLAIN_USER: PLAIN_PASSWORD},
    )
    kafka = local_kafka.LocalKafka(
        tmp_path_factory.mktemp("kafka-secure"), base_port=local_kafka.free_port_block(1), secure=listeners
    )
    kafka.start()
    try:
        yield SecureBroker(
            kafka, listeners, certs / "ca.pem", certs / "client.pem", certs / "client-key.pem", certs / "other-ca.pem"
        )
    finally:
        kafka.stop()


async def _round_trip(settings: CommonSettings) -> None:
    """Create a topic, produce two records and consume them back, every client built by the project's functions."""
    topic = f"test.security.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [TopicSpec(topic, 1, 1)])
    producer = make_producer(settings)
    await producer.start()
    try:
        await produce_all(producer, [(topic, b"k1", b"first"), (topic, b"k2", b"second")], timeout=20)
    finally:
        await producer.stop()
    consumer = make_consumer(settings, ConsumerOptions(group_id=f"g-{uuid.uuid4().hex[:8]}", topics=[topic]))
    await consumer.start()
    seen: list[bytes] = []
    try:

        async def both_read() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            seen.extend(record.value for records in batches.values() for record in records)
            return len(seen) >= 2

        await eventually(both_read, timeout=30)
    finally:
        await consumer.stop()
    assert seen == [b"first", b"second"]


async def test_mutual_tls_produces_and_consumes(secure_broker: SecureBroker) -> None:
    settings = secure_broker.settings(
        "SSL", kafka_ssl_cert_file=str(secure_broker.client_cert), kafka_ssl_key_file=str(secure_broker.client_key)
    )
    await _round_trip(settings)


async def test_tls_listener_refuses_a_client_without_certificate(secure_broker: SecureBroker) -> None:
    with_cert = secure_broker.settings(
        "SSL", kafka_ssl_cert_file=str(secure_broker.client_cert), kafka_ssl_key_file=str(secure_broker.client_key)
    )
    assert await kafka_reachable(with_cert, timeout=10)
    assert not await kafka_reachable(secure_broker.settings("SSL"), timeout=5)


async def test_a_broker_not_signed_by_the_configured_ca_is_refused(secure_broker: SecureBroker) -> None:
    credentials = {"kafka_sasl_username": SCRAM_USER, "kafka_sasl_password": SCRAM_PASSWORD}
    untrusted = secure_broker.settings("SASL_SSL", kafka_ssl_ca_file=str(secure_broker.other_ca_file), **credentials)
    assert not await kafka_reachable(untrusted, timeout=5)
    assert await kafka_reachable(secure_broker.settings("SASL_SSL", **credentials), timeout=10)


@pytest.mark.parametrize(
    ("mechanism", "user", "password"),
    [
        ("SCRAM-SHA-512", SCRAM_USER, SCRAM_PASSWORD),
        ("SCRAM-SHA-256", SCRAM_USER, SCRAM_PASSWORD),
        ("PLAIN", PLAIN_USER, PLAIN_PASSWORD),
    ],
)
async def test_sasl_ssl_produces_and_consumes(
    secure_broker: SecureBroker, mechanism: str, user: str, password: str
) -> None:
    settings = secure_broker.settings(
        "SASL_SSL", kafka_sasl_mechanism=mechanism, kafka_sasl_username=user, kafka_sasl_password=password
    )
    await _round_trip(settings)


async def test_sasl_credentials_from_files_over_sasl_plaintext(secure_broker: SecureBroker, tmp_path: Path) -> None:
    (tmp_path / "username").write_text(f"{SCRAM_USER}\n")  # Kubernetes Secret files often end in a newline
    (tmp_path / "password").write_text(f"{SCRAM_PASSWORD}\n")
    settings = secure_broker.settings(
        "SASL_PLAINTEXT",
        kafka_sasl_username_file=str(tmp_path / "username"),
        kafka_sasl_password_file=str(tmp_path / "password"),
    )
    await _round_trip(settings)


async def test_wrong_password_is_not_ready(secure_broker: SecureBroker, tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("not-the-password")
    settings = secure_broker.settings(
        "SASL_SSL", kafka_sasl_username=SCRAM_USER, kafka_sasl_password_file=str(password_file)
    )
    assert not await kafka_reachable(settings, timeout=5)
    password_file.write_text(SCRAM_PASSWORD)  # rotated in place, as a Secret volume is: the next client uses it
    assert await kafka_reachable(settings, timeout=10)


# -- settings that cannot work are refused at start-up ------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"}, "needs KAFKA_SASL_PASSWORD"),
        ({"kafka_ssl_ca_file": "/ca.pem"}, "KAFKA_SSL_CA_FILE set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cert_file": "/c.pem"}, "go together"),
        ({"kafka_sasl_username": "u", "kafka_sasl_password": "p"}, "does not use SASL"),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_username": "u",
                "kafka_sasl_password": "p",
                "kafka_sasl_password_file": "/p",
            },
            "not both",
        ),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_inconsistent_security_settings_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CommonSettings(**values)  # type: ignore[arg-type]


def test_the_variables_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "password").write_text("from-a-file")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc-ingest")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "password"))
    options = kafka_client_options(CommonSettings())
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("svc-ingest", "from-a-file")
    assert "ssl_context" not in options


def test_unreadable_files_name_the_variable(tmp_path: Path) -> None:
    missing = CommonSettings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="u",
        kafka_sasl_password_file=str(tmp_path / "absent"),
    )
    with pytest.raises(KafkaSecurityError, match="KAFKA_SASL_PASSWORD_FILE="):
        kafka_client_options(missing)
    bad_ca = CommonSettings(kafka_security_protocol="SSL", kafka_ssl_ca_file=str(tmp_path / "absent.pem"))
    with pytest.raises(KafkaSecurityError, match="KAFKA_SSL_CA_FILE="):
        kafka_client_options(bad_ca)


def test_every_kafka_client_in_the_services_is_built_with_the_shared_options() -> None:
    """A client constructed with its own arguments would connect in plaintext while the others use TLS."""
    constructions = 0
    for path in [*ROOT.glob("shared/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        text = path.read_text()
        for name in ("AIOKafkaProducer(", "AIOKafkaConsumer(", "AIOKafkaAdminClient("):
            start = 0
            while (index := text.find(name, start)) >= 0:
                start = index + len(name)
                call = text[index : index + 200]
                assert "**kafka_client_options(settings)" in call, f"{path.relative_to(ROOT)}: {call[:200]}"
                constructions += 1
    assert constructions >= 4  # producer, consumer, the admin client of topic creation and of the readiness probe
