"""A router process as far as the consumer batch and the timer loop need one, on a database of the test module's
own, with a clock the test sets: the passes are called as the router's loops call them, without Kafka or a running
router (tests of timers across reloads, lock waits, rechecks)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import asyncpg

from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.db.pool import make_pool
from alertrouter_router.decisions.decide import Rules
from alertrouter_router.overrides import OverlaidConfigs
from alertrouter_router.state import RouterState
from alertrouter_shared.events import Page
from tests.helpers import DatabaseFactory

T0 = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)  # a Monday: alice is on call at checkout's level 1, bob at level 2


@dataclass
class SetClock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at


@dataclass
class HandedOver:
    """What the outbox publisher is handed after each commit (the pages due then)."""

    pages: list[Page] = field(default_factory=list)

    def hand_over(self, pages: list[Page], now: datetime) -> None:
        self.pages += [p for p in pages if p.send_at <= now]


def migrated_database(databases: DatabaseFactory) -> str:
    url = databases.create()
    upgrade_to_head(url, wait=30)
    return url


def loop_state(pool: asyncpg.Pool, configs: Any, **settings: object) -> RouterState:
    """``configs``: anything with ``current`` (a ConfigHolder where the test reloads files)."""
    return cast(
        RouterState,
        SimpleNamespace(
            pool=pool,
            clock=SetClock(),
            configs=configs,
            settings=SimpleNamespace(escalation_batch=100, **settings),
            rules=Rules(),
            publisher=HandedOver(),
        ),
    )


def handed_over(state: RouterState) -> list[Page]:
    return cast(HandedOver, state.publisher).pages


def set_clock(state: RouterState, at: datetime) -> None:
    cast(SetClock, state.clock).at = at


@contextlib.asynccontextmanager
async def reminder_process(database: str, config_dir: Path) -> AsyncIterator[RouterState]:
    """A new router process for the shift-reminder pass, its first pass yet to run: the files of ``config_dir``
    with the API's overrides laid over them, as a router holds its configuration."""
    pool = await make_pool(database, 2)
    try:
        state = loop_state(pool, OverlaidConfigs.load(str(config_dir)), shift_reminder_poll_seconds=30)
        state.reminders_checked_at = None
        state.reminders_pruned_at = None
        yield state
    finally:
        await pool.close()
