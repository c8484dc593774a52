"""What one unit of routing work sees: its transaction, the configuration in force, and the instant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.incidents import CurrentIncidents
from alertrouter_router.maintenance import ApiWindows
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.writes import PendingWrites


@dataclass(frozen=True)
class EventContext:
    conn: AsyncConnection
    config: LoadedConfig
    now: datetime
    dry_run: bool = False
    writes: PendingWrites = field(default_factory=PendingWrites)
    windows: ApiWindows = field(default_factory=ApiWindows)
    incidents: CurrentIncidents = field(default_factory=CurrentIncidents)
