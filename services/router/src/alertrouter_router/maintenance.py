"""Is a service in a maintenance window at an instant? Windows come from configuration and from the API."""

from __future__ import annotations

from datetime import datetime

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


async def api_window(conn: AsyncConnection, service_id: str, at: datetime) -> str | None:
    row = (
        await conn.execute(
            select(maintenance_window.c.id, maintenance_window.c.reason, maintenance_window.c.ends_at).where(
                maintenance_window.c.service_id == service_id,
                maintenance_window.c.active,
                maintenance_window.c.starts_at <= at,
                maintenance_window.c.ends_at > at,
            )
        )
    ).first()
    if row is None:
        return None
    return f"maintenance window {row.id} ({row.reason or 'no reason given'}) until {row.ends_at.isoformat()}"


async def active_window(conn: AsyncConnection, service: Service, at: datetime) -> str | None:
    return configured_window(service, at) or await api_window(conn, service.id, at)
