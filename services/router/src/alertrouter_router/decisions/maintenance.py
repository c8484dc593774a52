"""Is a service in a maintenance window at an instant, and until when? Configured windows and the API's (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alertrouter_router.ownership.maintenance import ActiveWindow, describe_configured
from alertrouter_router.ownership.model import Service


@dataclass(frozen=True, slots=True)
class ApiWindow:
    id: str
    service_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str


@dataclass(frozen=True)
class Maintenance:
    """The maintenance windows in force: the configuration's plus those created through the API."""

    api_windows: tuple[ApiWindow, ...] = ()

    def covering(self, service: Service, at: datetime) -> ActiveWindow | None:
        configured = describe_configured(service, at)
        if configured is not None:
            return configured
        for window in self.api_windows:
            if window.service_id == service.id and window.starts_at <= at < window.ends_at:
                reason = window.reason or "no reason given"
                description = f"maintenance window {window.id} ({reason}) until {window.ends_at.isoformat()}"
                return ActiveWindow(description, window.ends_at)
        return None
