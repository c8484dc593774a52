"""Drills: rehearsing an incident on the real path, and checking the paging chain without paging anyone.

A paging drill raises a synthetic alert marked ``drill`` for one service by producing it to the alerts topic, like
a silent heartbeat does: it is routed, opens an incident marked drill, pages (every message says DRILL), escalates
as configured and is acknowledged by the person as usual. A drill incident never joins a real one, never counts
in incident metrics (MTTA, MTTR) and is left out of incident listings unless asked for. Its report is read back
from what the path stored (``drill_report.py``).

A paging drill ends on its own: it carries an end time (``minutes`` after its start, ``DEFAULT_MINUTES`` unless
asked, at most ``MAX_MINUTES``), and the timer loop resolves its incident then if nobody has ("drill ended: time
limit"), so a drill nobody answers never escalates for ever. A drill alert routed after its end pages nobody.

A silent drill pages nobody: it checks the chain as it stands right now (the route, who is on call at each level,
their contact methods, a maintenance window that would suppress a real alert) and stores what it found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alertrouter_router.decisions import route_explanation
from alertrouter_router.decisions.escalation import timeline
from alertrouter_router.decisions.incidents import DRILL_DEFAULT_MINUTES
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.routing import resolve_route
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource

DRILL_INTEGRATION = "drill"
# How long a paging drill may run before the router ends it: long enough for a policy's first levels and a
# person to answer, short enough that a forgotten drill does not page the next shift. A game day asks for more.
DEFAULT_MINUTES = DRILL_DEFAULT_MINUTES
MAX_MINUTES = 8 * 60


@dataclass(frozen=True, slots=True)
class DrillRun:
    id: str
    service_id: str
    silent: bool
    requested_by: str
    note: str
    started_at: datetime
    event_id: str | None = None
    dedup_key: str | None = None
    checks: dict[str, Any] | None = None
    schedule_id: str | None = None  # started by services[].drills[schedule_id] of the configuration
    scheduled_at: datetime | None = None
    ends_at: datetime | None = None  # a paging drill's time limit: its incident is resolved then if still open


def drill_dedup_key(service_id: str, run_id: str) -> str:
    """One alert per run, in a namespace no source can produce (ingest scopes every key by its integration)."""
    return f"drill:{service_id}:{run_id}"


def new_run(
    service_id: str,
    requested_by: str,
    note: str,
    now: datetime,
    *,
    silent: bool,
    run_id: str | None = None,
    minutes: int = DEFAULT_MINUTES,
) -> DrillRun:
    """A fresh run; a scheduled run passes an id derived from its schedule and time, so starting it again after a
    crash raises the same alert (same event id), which the router decides once. A paging run ends ``minutes``
    after ``now`` (1 to ``MAX_MINUTES``)."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(f"a drill runs 1 to {MAX_MINUTES} minutes, not {minutes}")
    run_id = run_id or str(uuid.uuid4())
    if silent:
        return DrillRun(run_id, service_id, True, requested_by, note, now)
    event_id = str(uuid.uuid5(uuid.UUID(run_id), "alert"))
    key = drill_dedup_key(service_id, run_id)
    ends_at = now + timedelta(minutes=minutes)
    return DrillRun(run_id, service_id, False, requested_by, note, now, event_id, key, ends_at=ends_at)


def drill_alert(run: DrillRun, service_name: str) -> AlertEvent:
    """The synthetic trigger of a paging drill, bound to its service (no route rule needs to match)."""
    if run.event_id is None or run.dedup_key is None:
        raise ValueError("a silent drill raises no alert")
    note = f": {run.note}" if run.note else ""
    return AlertEvent(
        event_id=uuid.UUID(run.event_id),
        source=AlertSource.DRILL,
        integration_id=DRILL_INTEGRATION,
        action=AlertAction.TRIGGER,
        dedup_key=run.dedup_key,
        summary=f"DRILL for {service_name}, requested by {run.requested_by}{note}. Please acknowledge.",
        labels={"alertname": "Drill", "drill": run.id, "service": run.service_id},
        bound_service=run.service_id,
        occurred_at=run.started_at,
        received_at=run.started_at,
        drill=True,
        drill_ends_at=run.ends_at,
    )


def silent_checks(config: LoadedConfig, service_id: str, maintenance: Maintenance, now: datetime) -> dict[str, Any]:
    """The chain a real alert of the service would take right now, level by level, and what would break it.

    Uses ``escalation.timeline`` (the preview's), so it resolves people exactly as the live path would.
    """
    route = resolve_route(config.config, {}, service_id)
    failures: list[str] = []
    checks: dict[str, Any] = {"at": now.isoformat(), "route": route_explanation(route), "levels": []}
    if route.escalation_policy_id is None:
        failures.append(f"no route: {route.reason}")
        return checks | {"failures": failures, "ok": False}
    window = maintenance.covering(config.services_by_id[service_id], now)
    if window is not None:
        failures.append(f"a real alert would be suppressed: the service is in maintenance: {window.description}")
    levels = []
    for step in timeline(config, route.escalation_policy_id, now):
        where = f"level {step['level']} (round {step['round']})"
        if not step["targets"]:
            failures.append(f"{where}: nobody on call")
        for target in step["targets"]:
            if not target["notifications"]:
                failures.append(f"{where}: {target['user']} has no contact method with a notification rule")
        levels.append(
            {
                "round": step["round"],
                "level": step["level"],
                "at": step["at"],
                "reaches_anyone": step["reaches_anyone"],
                "targets": [
                    {
                        "user": t["user"],
                        "name": t["name"],
                        "selected_by": t["selected_by"],
                        "contact_methods": [
                            {"id": n["contact_method"], "type": n["type"], "delay_minutes": n["delay_minutes"]}
                            for n in t["notifications"]
                        ],
                    }
                    for t in step["targets"]
                ],
            }
        )
    checks["levels"] = levels
    checks["policy"] = route.escalation_policy_id
    return checks | {"failures": failures, "ok": not failures}


def channels_of(checks: dict[str, Any]) -> list[str]:
    """The kinds of contact method the chain would page through, for the providers' check."""
    kinds = {m["type"] for level in checks.get("levels", []) for t in level["targets"] for m in t["contact_methods"]}
    return sorted(kinds)


def with_providers(checks: dict[str, Any], providers: dict[str, Any]) -> dict[str, Any]:
    """Adds the notifier's provider check: a provider that failed its check, or a channel the chain needs that has
    no provider, is a failure; "not checked" (a webhook cannot be checked without posting) is not."""
    failures = list(checks.get("failures", []))
    if providers.get("error"):
        failures.append(f"providers not checked: {providers['error']}")
    for item in providers.get("providers", []):
        if item["status"] == "failed":
            failures.append(f"provider {item['provider']} ({item['channel']}) failed its check: {item['detail']}")
        elif item["status"] == "not configured":
            failures.append(f"{item['channel']}: no provider configured: {item['detail']}")
    return checks | {"providers": providers, "failures": failures, "ok": not failures}
