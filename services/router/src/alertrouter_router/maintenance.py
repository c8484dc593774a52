"""Is a service in a maintenance window at an instant? Windows come from configuration and from the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_router.db.tables import maintenance_window
from alertrouter_router.ownership.maintenance import active_maintenance
from alertrouter_router.ownership.model import Service


def configured_window(service: Service, at: datetime) -> str | None:
    """A description of the configured window covering ``at``, or None."""
    window = active_maintenance(service, at)
    if window is None:
        return None
    index = service.maintenance_windows.index(window)
    kind = "one-off" if window.once is not None else "weekly"
    return f"services[{service.id}].maintenance_windows[{index}] ({kind})"


@dataclass
class ApiWindows:
    """The API's active maintenance windows, read once per transaction rather than once per new incident.

    A consumer batch is one transaction, so one read serves all its events; an event's own instant still decides.
    """

    by_service: dict[str, list[Any]] | None = None

    async def covering(self, conn: AsyncConnection, service_id: str, at: datetime) -> str | None:
        if self.by_service is None:
            self.by_service = await _active_windows(conn, at)
        for row in self.by_service.get(service_id, []):
            if row.starts_at <= at < row.ends_at:
                reason = row.reason or "no reason given"
                return f"maintenance window {row.id} ({reason}) until {row.ends_at.isoformat()}"
        return None


async def _active_windows(conn: AsyncConnection, at: datetime) -> dict[str, list[Any]]:
    columns = (
        maintenance_window.c.id,
        maintenance_window.c.service_id,
        maintenance_window.c.reason,
        maintenance_window.c.starts_at,
        maintenance_window.c.ends_at,
    )
    rows = await conn.execute(
        select(*columns)
        .where(maintenance_window.c.active, maintenance_window.c.ends_at > at)
        .order_by(maintenance_window.c.starts_at, maintenance_window.c.id)
    )
    windows: dict[str, list[Any]] = {}
    for row in rows:
        windows.setdefault(row.service_id, []).append(row)
    return windows


async def active_window(conn: AsyncConnection, windows: ApiWindows, service: Service, at: datetime) -> str | None:
    return configured_window(service, at) or await windows.covering(conn, service.id, at)
