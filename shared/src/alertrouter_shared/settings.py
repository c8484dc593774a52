"""Settings common to every service, read from the environment with the public contract's defaults.

The contract's variables (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``ALERTROUTER_CONFIG``) are
unprefixed; each service adds its own fields under its own prefix (``INGEST_``, ``ROUTER_``, ``NOTIFIER_``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


def _var(name: str, default: Any, description: str, **constraints: Any) -> Any:
    """A field read from the unprefixed variable ``name`` (the public contract's names)."""
    return Field(default, validation_alias=_env(name), description=description, **constraints)


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = _var("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "Kafka brokers, host:port,…")
    kafka_client_id: str = _var("KAFKA_CLIENT_ID", "alertrouter", "client id sent to Kafka")
    kafka_topic_partitions: int = _var("KAFKA_TOPIC_PARTITIONS", 6, "partitions of the topics we create", ge=1)
    kafka_topic_replication_factor: int = _var(
        "KAFKA_TOPIC_REPLICATION_FACTOR", 1, "replication factor of the topics we create", ge=1
    )
    kafka_create_topics: bool = _var("KAFKA_CREATE_TOPICS", True, "create missing topics at start-up")
    database_url: str = _var(
        "DATABASE_URL",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/alertrouter",
        "SQLAlchemy async URL (postgresql+asyncpg://…)",
    )
    log_level: str = _var("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["json", "console"] = _var("LOG_FORMAT", "json", "json (production) or console")
    api_tokens: str = _var(
        "ALERTROUTER_API_TOKENS", "", "comma-separated '<sha256 hex of token>:read+write' entries (hashes only)"
    )
    api_tokens_file: str | None = _var("ALERTROUTER_API_TOKENS_FILE", None, "a file with more token entries")
