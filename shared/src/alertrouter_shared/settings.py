"""Settings common to every service, read from the environment with the public contract's defaults.

The contract's variables (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``ALERTROUTER_CONFIG``) are
unprefixed; each service adds its own fields under its own prefix (``INGEST_``, ``ROUTER_``, ``NOTIFIER_``).
"""

from __future__ import annotations

from typing import Any, Literal, Self
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


def _var(name: str, default: Any, description: str, **constraints: Any) -> Any:
    """A field read from the unprefixed variable ``name`` (the public contract's names)."""
    return Field(default, validation_alias=_env(name), description=description, **constraints)


MIN_RETENTION_DAYS = 30  # longer than Kafka keeps records (7 days): no page older than this is republished


def retention_days(description: str) -> Any:
    """History kept, in days; 0 keeps everything. A short retention would delete the ledger row that tells a page
    republished from Kafka from a new one, and what reports and ``Why`` read."""
    return Field(0, ge=0, description=f"{description}; 0 = keep everything, else at least {MIN_RETENTION_DAYS}")


def check_retention(days: int) -> int:
    if 0 < days < MIN_RETENTION_DAYS:
        raise ValueError(f"0 (keep everything) or at least {MIN_RETENTION_DAYS} days")
    return days


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = _var("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "Kafka brokers, host:port,…")
    kafka_client_id: str = _var("KAFKA_CLIENT_ID", "alertrouter", "client id sent to Kafka")
    kafka_topic_partitions: int = _var("KAFKA_TOPIC_PARTITIONS", 6, "partitions of the topics we create", ge=1)
    kafka_topic_replication_factor: int = _var(
        "KAFKA_TOPIC_REPLICATION_FACTOR",
        1,
        "replication factor of the topics we create (with min.insync.replicas 2, or this when lower)",
        ge=1,
    )
    kafka_create_topics: bool = _var("KAFKA_CREATE_TOPICS", True, "create missing topics at start-up")
    kafka_security_protocol: KafkaSecurityProtocol = _var(
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = _var(
        "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_* protocols)"
    )
    kafka_sasl_username: str = _var("KAFKA_SASL_USERNAME", "", "SASL user name (or KAFKA_SASL_USERNAME_FILE)")
    kafka_sasl_username_file: str | None = _var(
        "KAFKA_SASL_USERNAME_FILE", None, "a file holding the SASL user name (read at each connection)"
    )
    kafka_sasl_password: SecretStr = _var("KAFKA_SASL_PASSWORD", SecretStr(""), "SASL password (or the _FILE)")
    kafka_sasl_password_file: str | None = _var(
        "KAFKA_SASL_PASSWORD_FILE", None, "a file holding the SASL password (read at each connection)"
    )
    kafka_ssl_ca_file: str | None = _var(
        "KAFKA_SSL_CA_FILE", None, "PEM CA bundle the brokers' certificates are checked against; unset = system CAs"
    )
    kafka_ssl_cert_file: str | None = _var(
        "KAFKA_SSL_CERT_FILE", None, "PEM client certificate (chain) for mutual TLS; needs KAFKA_SSL_KEY_FILE"
    )
    kafka_ssl_key_file: str | None = _var("KAFKA_SSL_KEY_FILE", None, "PEM private key of the client certificate")
    kafka_ssl_check_hostname: bool = _var(
        "KAFKA_SSL_CHECK_HOSTNAME", True, "check that a broker's certificate names the host connected to"
    )
    database_url: str = _var(
        "DATABASE_URL",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/alertrouter",
        "PostgreSQL URL: postgresql+asyncpg://… (postgresql:// and postgres:// are read as asyncpg URLs)",
    )
    database_password: SecretStr = _var(
        "DATABASE_PASSWORD", SecretStr(""), "password put into DATABASE_URL (URL-encoded), for a URL without one"
    )
    log_level: str = _var("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["json", "console"] = _var("LOG_FORMAT", "json", "json (production) or console")
    api_tokens: str = _var(
        "ALERTROUTER_API_TOKENS", "", "comma-separated '<sha256 hex of token>:read+write' entries (hashes only)"
    )
    api_tokens_file: str | None = _var("ALERTROUTER_API_TOKENS_FILE", None, "a file with more token entries")

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, url: str) -> str:
        """Accept the usual libpq-style URL of a PostgreSQL service; the services talk to it through asyncpg."""
        scheme, _, rest = url.partition("://")
        return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") and rest else url

    @model_validator(mode="after")
    def _password_into_url(self) -> Self:
        """DATABASE_PASSWORD from a Secret goes into the URL encoded, so any character in it is safe."""
        password = self.database_password.get_secret_value()
        if not password:
            return self
        parts = urlsplit(self.database_url)
        if parts.password is not None:
            raise ValueError("DATABASE_PASSWORD set but DATABASE_URL already has a password")
        if not parts.username:
            raise ValueError("DATABASE_PASSWORD set but DATABASE_URL names no user (postgresql+asyncpg://USER@host/db)")
        userinfo, _, hostport = parts.netloc.rpartition("@")
        netloc = f"{userinfo}:{quote(password, safe='')}@{hostport}"
        self.database_url = urlunsplit(parts._replace(netloc=netloc))
        return self

    @model_validator(mode="after")
    def _kafka_security_is_consistent(self) -> Self:
        """Refuse half-configured security at start-up: a forgotten protocol must not mean a silent plaintext link."""
        protocol = self.kafka_security_protocol
        tls_files = [n for n in ("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file") if getattr(self, n)]
        if tls_files and not protocol.endswith("SSL"):
            names = ", ".join(n.upper() for n in tls_files)
            raise ValueError(f"{names} set but KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS (SSL or SASL_SSL)")
        if bool(self.kafka_ssl_cert_file) != bool(self.kafka_ssl_key_file):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together (mutual TLS needs both)")
        for name in ("username", "password"):
            value = getattr(self, f"kafka_sasl_{name}")
            given = bool(value.get_secret_value() if isinstance(value, SecretStr) else value)
            from_file = bool(getattr(self, f"kafka_sasl_{name}_file"))
            variable = f"KAFKA_SASL_{name.upper()}"
            if given and from_file:
                raise ValueError(f"set {variable} or {variable}_FILE, not both")
            if protocol.startswith("SASL_") and not (given or from_file):
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs {variable} or {variable}_FILE")
            if not protocol.startswith("SASL_") and (given or from_file):
                raise ValueError(f"{variable} set but KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL")
        return self
