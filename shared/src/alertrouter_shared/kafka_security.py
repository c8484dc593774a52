"""How every Kafka client of the project connects: brokers, client id, TLS and SASL, from one place.

Why one function: a producer, a consumer or an admin client built with its own arguments would silently connect in
plaintext while the others use TLS. Every constructor of an aiokafka client in shared/ and services/ takes
``**kafka_client_options(settings)``.

Secrets given as files (Kubernetes Secret volumes) are read each time a client is built, so a rotated password is
picked up by the next connection without a restart.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from alertrouter_shared.settings import CommonSettings


class KafkaSecurityError(ValueError):
    """A configured credential or certificate cannot be read; the message names the variable to fix."""


def kafka_client_options(settings: CommonSettings) -> dict[str, Any]:
    """The keyword arguments every AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient is built with."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "security_protocol": protocol,
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = kafka_ssl_context(settings)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = _secret(
            "KAFKA_SASL_USERNAME", settings.kafka_sasl_username, settings.kafka_sasl_username_file
        )
        options["sasl_plain_password"] = _secret(
            "KAFKA_SASL_PASSWORD", settings.kafka_sasl_password, settings.kafka_sasl_password_file
        )
    return options


def kafka_ssl_context(settings: CommonSettings) -> ssl.SSLContext:
    """Verify the brokers against the CA file (else the system's CAs); present a client certificate if configured."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ssl_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(f"KAFKA_SSL_CA_FILE={settings.kafka_ssl_ca_file} cannot be used: {exc}") from exc
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_cert_file and settings.kafka_ssl_key_file:
        try:
            context.load_cert_chain(settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(
                f"KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE ({settings.kafka_ssl_cert_file}) cannot be used: {exc}"
            ) from exc
    return context


def _secret(variable: str, value: str | SecretStr, file: str | None) -> str:
    if file:
        try:
            return Path(file).read_text().strip()
        except OSError as exc:
            raise KafkaSecurityError(f"{variable}_FILE={file} cannot be read: {exc.strerror}") from exc
    return value.get_secret_value() if isinstance(value, SecretStr) else value
