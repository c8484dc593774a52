"""Whether a service is inside one of its maintenance windows at an instant (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alertrouter_router.ownership.model import MaintenanceWindow, Service
from alertrouter_router.ownership.rotation import window_intervals


def active_maintenance(service: Service, at: datetime) -> MaintenanceWindow | None:
    """The first maintenance window of ``service`` containing ``at``, if any."""
    for window in service.maintenance_windows:
        if window.once is not None and window.once.start <= at < window.once.end:
            return window
        if window.weekly is not None:
            zone = ZoneInfo(window.weekly.time_zone)
            if window_intervals([window.weekly.as_window()], zone, at, at + timedelta(microseconds=1)):
                return window
    return None
