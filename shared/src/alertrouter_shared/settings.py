"""Settings common to every service, read from the environment with the public contract's defaults.

The contract's variables (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``ALERTROUTER_CONFIG``) are unprefixed;
each service adds its own fields under its own prefix (``INGEST_``, ``ROUTER_``, ``NOTIFIER_``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"))
    kafka_client_id: str = Field("alertrouter", validation_alias=_env("KAFKA_CLIENT_ID"))
    kafka_topic_partitions: int = Field(6, ge=1, validation_alias=_env("KAFKA_TOPIC_PARTITIONS"))
    kafka_topic_replication_factor: int = Field(1, ge=1, validation_alias=_env("KAFKA_TOPIC_REPLICATION_FACTOR"))
    kafka_create_topics: bool = Field(True, validation_alias=_env("KAFKA_CREATE_TOPICS"))
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/alertrouter", validation_alias=_env("DATABASE_URL")
    )
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    log_format: Literal["json", "console"] = Field("json", validation_alias=_env("LOG_FORMAT"))
    api_tokens: str = Field(
        "",
        validation_alias=_env("ALERTROUTER_API_TOKENS"),
        description="Comma-separated 'sha256hex:scope+scope' entries (see docs/configuration.md)",
    )
    api_tokens_file: str | None = Field(None, validation_alias=_env("ALERTROUTER_API_TOKENS_FILE"))
