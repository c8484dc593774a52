"""Everything the pipeline, the timers and the API share in one router process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_router.decisions.decide import Rules
from alertrouter_router.outbox import OutboxPublisher
from alertrouter_router.overrides import OverlaidConfigs
from alertrouter_router.settings import RouterSettings
from alertrouter_shared.auth import TokenEntry
from alertrouter_shared.clock import Clock


@dataclass
class RouterState:
    settings: RouterSettings
    engine: AsyncEngine  # the API's reads and Alembic
    pool: asyncpg.Pool  # type: ignore[type-arg]  # the hot path: consumer batches, timers, person actions
    producer: AIOKafkaProducer
    clock: Clock
    configs: OverlaidConfigs  # the files' configuration plus the overrides made through the API
    token_entries: list[TokenEntry]
    publisher: OutboxPublisher
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once Kafka was reached at start (topics, producer) and every task runs: until then /readyz says Kafka no.
    started: asyncio.Event = field(default_factory=asyncio.Event)
    reminders_checked_at: datetime | None = None  # the end of the last shift-reminder pass in this process
    reminders_pruned_at: datetime | None = None  # when this process last deleted old shift-reminder rows
    history_pruned_at: datetime | None = None  # when this process last found no history past the retention

    @property
    def rules(self) -> Rules:
        return Rules(
            max_event_age_seconds=self.settings.max_event_age_seconds,
            clock_skew_seconds=self.settings.clock_skew_seconds,
            recheck_max_seconds=self.settings.maintenance_recheck_seconds,
            nobody_reachable_retry_minutes=self.settings.nobody_reachable_retry_minutes,
        )
