"""Router settings: the contract's common variables plus ``ROUTER_``-prefixed ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from alertrouter_shared.settings import CommonSettings, _env


class RouterSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore", populate_by_name=True)

    config_path: str = Field("examples/ownership", validation_alias=_env("ALERTROUTER_CONFIG"))
    host: str = "0.0.0.0"
    port: int = 8081
    consumer_group: str = "router"
    batch_max_records: int = 500
    max_event_age_seconds: int = Field(
        900, description="Events older than this (backlog replay) update incidents but never page"
    )
    escalation_poll_seconds: float = 1.0
    escalation_batch: int = 100
    outbox_poll_seconds: float = 1.0
    db_pool_size: int = 10
