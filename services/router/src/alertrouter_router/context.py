"""What one unit of routing work sees: its transaction, the configuration in force, and the instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.ownership.loader import LoadedConfig


@dataclass(frozen=True)
class EventContext:
    conn: AsyncConnection
    config: LoadedConfig
    now: datetime
    dry_run: bool = False
