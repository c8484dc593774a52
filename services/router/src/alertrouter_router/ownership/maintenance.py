"""Whether a service is inside one of its configured maintenance windows at an instant, and until when (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alertrouter_router.ownership.model import MaintenanceWindow, Service
from alertrouter_router.ownership.rotation import window_intervals


@dataclass(frozen=True)
class ActiveWindow:
    """A window covering an instant: what it is (for the decision) and when it ends (to look again then)."""

    description: str
    until: datetime


def active_maintenance(service: Service, at: datetime) -> MaintenanceWindow | None:
    """The first maintenance window of ``service`` containing ``at``, if any."""
    found = configured_window(service, at)
    return None if found is None else service.maintenance_windows[found[0]]


def configured_window(service: Service, at: datetime) -> tuple[int, datetime] | None:
    """(index, end) of the first configured window containing ``at``."""
    for index, window in enumerate(service.maintenance_windows):
        if window.once is not None and window.once.start <= at < window.once.end:
            return index, window.once.end
        if window.weekly is not None:
            zone = ZoneInfo(window.weekly.time_zone)
            covering = window_intervals([window.weekly.as_window()], zone, at, at + timedelta(days=8))
            if covering and covering[0][0] <= at:
                return index, covering[0][1]
    return None


def is_over(window: MaintenanceWindow, at: datetime) -> bool:
    """A one-off window past its end: listed, it reads as maintenance going on. A weekly one comes round again."""
    return window.once is not None and window.once.end <= at


def describe_configured(service: Service, at: datetime) -> ActiveWindow | None:
    found = configured_window(service, at)
    if found is None:
        return None
    index, until = found
    kind = "one-off" if service.maintenance_windows[index].once is not None else "weekly"
    return ActiveWindow(f"services[{service.id}].maintenance_windows[{index}] ({kind})", until)
