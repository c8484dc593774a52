"""Small builders for ownership tests: a schedule or a whole configuration from plain dicts, a page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from alertrouter_router.ownership.model import OwnershipConfig, Schedule
from alertrouter_shared.events import ContactMethod, Page


def page_to(user_id: str, contact: ContactMethod, created_at: datetime, send_at: datetime, **fields: Any) -> Page:
    """A trigger page of incident i1 to ``user_id`` over ``contact``; ``fields`` override the rest."""
    values: dict[str, Any] = {
        "page_id": f"i1:1:1:{user_id}:{contact.id}",
        "incident_id": "i1",
        "decision_id": "d1",
        "dedup_key": "k",
        "service_id": "svc",
        "team_id": "team-a",
        "user_id": user_id,
        "contact_method": contact,
        "created_at": created_at,
        "send_at": send_at,
    }
    return Page(**(values | fields))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return local("Europe/Berlin", year, month, day, hour, minute)


def layer(
    layer_id: str = "l1",
    participants: list[str] | None = None,
    start: str = "2024-01-01T09:00:00",
    turn: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": layer_id,
        "participants": participants if participants is not None else ["a", "b", "c"],
        "start": start,
        "turn": turn if turn is not None else {"days": 1},
        **extra,
    }


def schedule(
    zone: str = "Europe/Berlin",
    layers: list[dict[str, Any]] | None = None,
    overrides: list[dict[str, Any]] | None = None,
) -> Schedule:
    return Schedule.model_validate(
        {
            "id": "s1",
            "name": "Schedule one",
            "time_zone": zone,
            "layers": layers if layers is not None else [layer()],
            "overrides": overrides or [],
        }
    )


def user(user_id: str, *, reachable: bool = True) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": user_id.title(),
        "time_zone": "Europe/Berlin",
        "contact_methods": [
            {"id": f"{user_id}-hook", "type": "webhook", "address": f"http://127.0.0.1:18090/hooks/{user_id}"},
            {"id": f"{user_id}-sms", "type": "sms", "address": "+447700900100"},
        ],
        "notification_rules": (
            [
                {"contact_method": f"{user_id}-hook", "delay_minutes": 0},
                {"contact_method": f"{user_id}-sms", "delay_minutes": 5},
            ]
            if reachable
            else []
        ),
    }


def minimal_document() -> dict[str, Any]:
    """A small valid configuration as YAML-shaped data: tests copy it and break one thing."""
    return {
        "teams": [{"id": "team-a", "name": "Team A", "members": ["a", "b", "c"]}],
        "users": [user("a"), user("b"), user("c")],
        "schedules": [
            {
                "id": "s1",
                "name": "Primary",
                "time_zone": "Europe/Berlin",
                "layers": [layer()],
            }
        ],
        "escalation_policies": [
            {
                "id": "p1",
                "name": "Policy",
                "repeat": 1,
                "levels": [
                    {"delay_minutes": 10, "targets": [{"type": "schedule", "id": "s1"}]},
                    {"delay_minutes": 10, "targets": [{"type": "team", "id": "team-a"}]},
                ],
            }
        ],
        "services": [{"id": "svc", "name": "Service", "owner_team": "team-a", "escalation_policy": "p1"}],
        "route_rules": [
            {"id": "r1", "service": "svc", "match": [{"label": "service", "op": "=", "value": "svc"}]},
        ],
        "integrations": [
            {"id": "am", "type": "alertmanager", "key": "am-key", "development_only": True},
        ],
    }


def config_from(document: dict[str, Any]) -> OwnershipConfig:
    return OwnershipConfig.model_validate(document)
