"""Reading what ``decide`` needs, in a few set-based statements per batch (asyncpg, no ORM on the hot path).

Live reads lock in one order everywhere, so router replicas, the timer loop and the API never wait on each
other in a cycle: per-service grouping advisory locks (sorted) → alert rows (by key) → incident rows (by id).
The preview reads the same rows with no lock at all, in a read-only transaction.

A consumer batch's snapshot is one statement (``for_events``): under contention for the CPU every round trip
is two process wake-ups on the critical path of a page, and the four reads it replaced were four of the ten
round trips between an alert's arrival and its page's publication. It includes the last beat of each heartbeat
whose silent alert the batch holds (``heard_since`` in ``decisions/beats.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from alertrouter_router.db.pool import Conn
from alertrouter_router.decisions.alerts import Alert, AlertStatus, SuppressedBy, routing_integration
from alertrouter_router.decisions.decide import Snapshot
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.grouping import group_key
from alertrouter_router.decisions.incidents import Incident, IncidentStatus
from alertrouter_router.decisions.maintenance import ApiWindow, Maintenance
from alertrouter_router.decisions.paging import PAGE_ALERTS_SHOWN
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.routing import resolve_route
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, PageAlert

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

_ALERT_COLUMNS = (
    "dedup_key, status, incident_id, suppressed_by, recheck_at, service_id, team_id, policy_id, source, "
    "integration_id, bound_service, summary, severity, labels, episode_started_at, episode_opened_at, "
    "first_event_at, last_event_at, repeat_count, resolved_at, updated_at, drill, drill_ends_at, resolved_by_source, "
    "no_route_version"
)
_INCIDENT_COLUMNS = (
    "id, dedup_key, status, service_id, team_id, policy_id, summary, severity, labels, alert_count, firing_count, "
    "group_key, opened_at, first_event_at, last_event_at, acknowledged_at, acknowledged_by, resolved_at, "
    "resolved_by, config_version, round_base, last_round, last_level, step_round, retrigger_at, drill, drill_ends_at"
)
# An incident's integration is its opening alert's (``Incident.integration_id``), read, not locked: alerts are locked
# before incidents, and the integration of a dedup key never changes.
_INCIDENT_SELECT = (
    f"{_INCIDENT_COLUMNS}, (SELECT o.integration_id FROM router_alert AS o "  # noqa: S608 constants
    "WHERE o.dedup_key = router_incident.dedup_key) AS integration_id"
)


def alert_from_row(row: Any) -> Alert:
    values = dict(row)
    values["status"] = AlertStatus(values["status"])
    values["suppressed_by"] = SuppressedBy(values["suppressed_by"]) if values["suppressed_by"] else None
    return Alert(**values)


def incident_from_row(row: Any) -> Incident:
    values = dict(row)
    values["status"] = IncidentStatus(values["status"])
    return Incident(**values)


def grouping_services(config: LoadedConfig, events: Iterable[AlertEvent], alerts: Iterable[Alert] = ()) -> list[str]:
    """Services of the batch whose triggers may open or join a group: their advisory locks serialise grouping."""
    found: set[str] = set()
    for event in events:
        if event.action is AlertAction.TRIGGER:
            route = resolve_route(config.config, event.labels, event.bound_service, routing_integration(event))
            if route.service_id is not None:
                found.add(route.service_id)
    for alert in alerts:
        route = resolve_route(config.config, alert.labels, alert.bound_service, routing_integration(alert))
        if route.service_id is not None:
            found.add(route.service_id)
    return sorted(s for s in found if group_key(config.services_by_id[s], {}) is not None)


async def lock_groups(conn: Conn, services: Sequence[str]) -> None:
    if services:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('group:' || s)) FROM unnest($1::text[]) WITH ORDINALITY AS t(s, n) "
            "ORDER BY n",
            list(services),
        )


async def read_alerts(conn: Conn, keys: Sequence[str], *, lock: bool) -> dict[str, Alert]:
    if not keys:
        return {}
    suffix = " ORDER BY dedup_key FOR UPDATE" if lock else ""
    rows = await conn.fetch(
        f"SELECT {_ALERT_COLUMNS} FROM router_alert WHERE dedup_key = ANY($1::text[]){suffix}",  # noqa: S608 constants
        keys,
    )
    return {row["dedup_key"]: alert_from_row(row) for row in rows}


async def read_incidents(
    conn: Conn,
    ids: Iterable[str],
    group_services: Sequence[str],
    groups_since: datetime,
    *,
    lock: bool,
    skip_locked: bool = False,
) -> dict[str, Incident]:
    """The incidents of the batch's alerts and the open grouping incidents of its services."""
    wanted = sorted(set(ids))
    if not wanted and not group_services:
        return {}
    suffix = ""
    if lock:
        suffix = " ORDER BY id FOR UPDATE" + (" SKIP LOCKED" if skip_locked else "")
    rows = await conn.fetch(
        f"SELECT {_INCIDENT_SELECT} FROM router_incident WHERE id = ANY($1::text[]) OR "  # noqa: S608 constants
        "(service_id = ANY($2::text[]) AND group_key IS NOT NULL AND status <> 'resolved' AND opened_at >= $3)"
        + suffix,
        wanted,
        list(group_services),
        groups_since,
    )
    return {row["id"]: incident_from_row(row) for row in rows}


async def read_members(conn: Conn, incident_ids: Sequence[str]) -> dict[str, list[PageAlert]]:
    """Some member alerts of each incident (newest last), for pages that say what they carry."""
    if not incident_ids:
        return {}
    rows = await conn.fetch(
        "SELECT incident_id, dedup_key, summary FROM (SELECT incident_id, dedup_key, summary, episode_opened_at, "
        "row_number() OVER (PARTITION BY incident_id ORDER BY episode_opened_at DESC) AS n FROM router_alert "
        "WHERE incident_id = ANY($1::text[])) AS m WHERE n <= $2 ORDER BY incident_id, episode_opened_at",
        list(incident_ids),
        PAGE_ALERTS_SHOWN,
    )
    members: dict[str, list[PageAlert]] = {}
    for row in rows:
        members.setdefault(row["incident_id"], []).append(PageAlert(dedup_key=row["dedup_key"], summary=row["summary"]))
    return members


async def read_maintenance(conn: Conn, now: datetime) -> Maintenance:
    rows = await conn.fetch(
        "SELECT id, service_id, starts_at, ends_at, reason FROM router_maintenance_window "
        "WHERE active AND ends_at > $1 ORDER BY starts_at, id",
        now,
    )
    return Maintenance(tuple(ApiWindow(**dict(row)) for row in rows))


def groups_since(config: LoadedConfig, now: datetime) -> datetime:
    widest = max((s.grouping_window_seconds or 0 for s in config.config.services), default=0)
    return now - timedelta(seconds=widest)


_WINDOW_COLUMNS = "id, service_id, starts_at, ends_at, reason"


def _snapshot_sql(lock: str) -> str:
    """Alerts are locked before incidents: the incidents' ids are an init plan over the alerts, evaluated (and the
    alert rows locked, in key order) before the first incident row is fetched."""
    return (
        f"WITH a AS (SELECT {_ALERT_COLUMNS} FROM router_alert WHERE dedup_key = ANY($1::text[]) "  # noqa: S608
        f"ORDER BY dedup_key{lock}), "
        f"i AS (SELECT {_INCIDENT_SELECT} FROM router_incident "
        "WHERE id = ANY(ARRAY(SELECT incident_id FROM a WHERE incident_id IS NOT NULL)) "
        "OR (service_id = ANY($2::text[]) AND group_key IS NOT NULL AND status <> 'resolved' AND opened_at >= $3) "
        f"ORDER BY id{lock}) "
        "SELECT ARRAY(SELECT a FROM a) AS alerts, ARRAY(SELECT i FROM i) AS incidents, "
        "ARRAY(SELECT event_id FROM router_decision WHERE event_id = ANY($4::text[])) AS decided, "
        f"ARRAY(SELECT w FROM (SELECT {_WINDOW_COLUMNS} FROM router_maintenance_window "
        "WHERE $5 AND active AND ends_at > $6 ORDER BY starts_at, id) AS w) AS windows, "
        "ARRAY(SELECT b FROM (SELECT integration_id, last_beat_at FROM router_heartbeat "
        "WHERE integration_id = ANY($7::text[]) AND last_beat_at IS NOT NULL) AS b) AS beats"
    )


_SNAPSHOT_LOCKED = _snapshot_sql(" FOR UPDATE")
_SNAPSHOT_PREVIEW = _snapshot_sql("")
_ALERT_NAMES = tuple(_ALERT_COLUMNS.split(", "))
_INCIDENT_NAMES = (*_INCIDENT_COLUMNS.split(", "), "integration_id")
_WINDOW_NAMES = tuple(_WINDOW_COLUMNS.split(", "))


async def for_events(
    conn: Conn, events: Sequence[AlertEvent], config: LoadedConfig, now: datetime, *, lock: bool = True
) -> tuple[Snapshot, Maintenance]:
    """The snapshot of a consumer batch (locked), or of a preview (``lock=False``: no lock is taken, and nothing
    counts as decided already)."""
    services = grouping_services(config, events)
    if lock:
        await lock_groups(conn, services)
    arguments = (
        sorted({e.dedup_key for e in events}),
        services,
        groups_since(config, now),
        [str(e.event_id) for e in events] if lock else [],
        any(e.action is AlertAction.TRIGGER for e in events),
        now,
        sorted(
            {e.integration_id for e in events if e.source is AlertSource.HEARTBEAT and e.action is AlertAction.TRIGGER}
        ),
    )
    snapshot, maintenance = _snapshot(await conn.fetchrow(_SNAPSHOT_LOCKED if lock else _SNAPSHOT_PREVIEW, *arguments))
    if lock and any(a.incident_id not in snapshot.incidents for a in snapshot.alerts.values() if a.incident_id):
        # The statement sees what was committed when it began. One that waited for an alert's row lock gets the row
        # as its holder left it, but not an incident the holder inserted (a recheck that paged the alert, a batch of
        # a replica on the same key in a rebalance): the alert looked like a new episode, a second incident paged.
        # The alerts are locked now; read again, the statement sees it (and the events the holder decided).
        snapshot, maintenance = _snapshot(await conn.fetchrow(_SNAPSHOT_LOCKED, *arguments))
    return snapshot, maintenance


def _snapshot(row: Any) -> tuple[Snapshot, Maintenance]:
    alerts = (alert_from_row(zip(_ALERT_NAMES, values, strict=True)) for values in row["alerts"])
    incidents = (incident_from_row(zip(_INCIDENT_NAMES, values, strict=True)) for values in row["incidents"])
    windows = (ApiWindow(**dict(zip(_WINDOW_NAMES, values, strict=True))) for values in row["windows"])
    snapshot = Snapshot(
        alerts={alert.dedup_key: alert for alert in alerts},
        incidents={incident.id: incident for incident in incidents},
        decided=set(row["decided"]),
        last_beats=dict(row["beats"]),
    )
    return snapshot, Maintenance(tuple(windows))


async def for_steps(conn: Conn, steps: Sequence[Step], config: LoadedConfig, now: datetime) -> Snapshot:
    """Incidents of claimed steps, skipping any another transaction holds (its step stays for the next pass)."""
    incidents = await read_incidents(conn, [s.incident_id for s in steps], [], now, lock=True, skip_locked=True)
    decided = await read_decided_steps(conn, [s.key for s in steps])
    return Snapshot(incidents=incidents, decided=decided, members=await read_members(conn, list(incidents)))


async def for_held_steps(conn: Conn, steps: Sequence[Step], now: datetime) -> tuple[list[Step], Snapshot]:
    """Steps a pass skipped because another transaction held their incidents: this one waits for the incidents
    (the caller bounds the wait), locking them before the steps, as the consumer and a person's action lock an
    incident before its steps; a step fired or cancelled meanwhile is no longer pending and is left out."""
    incidents = await read_incidents(conn, [s.incident_id for s in steps], [], now, lock=True)
    rows = await conn.fetch(
        "SELECT s.incident_id, s.round, s.level, s.due_at FROM router_escalation_step AS s "
        "JOIN unnest($1::text[], $2::int[], $3::int[]) AS h(i, r, l) "
        "ON s.incident_id = h.i AND s.round = h.r AND s.level = h.l "
        "WHERE s.status = 'pending' AND s.due_at <= $4 ORDER BY s.due_at FOR UPDATE OF s SKIP LOCKED",
        [s.incident_id for s in steps],
        [s.round for s in steps],
        [s.level for s in steps],
        now,
    )
    claimed = [Step(r["incident_id"], r["round"], r["level"], r["due_at"]) for r in rows]
    decided = await read_decided_steps(conn, [s.key for s in claimed])
    members = await read_members(conn, sorted({s.incident_id for s in claimed}))
    return claimed, Snapshot(incidents=incidents, decided=decided, members=members)


async def read_decided_steps(conn: Conn, step_keys: Sequence[str]) -> set[str]:
    if not step_keys:
        return set()
    rows = await conn.fetch("SELECT step_key FROM router_decision WHERE step_key = ANY($1::text[])", step_keys)
    return {row["step_key"] for row in rows}


async def for_drill_ends(conn: Conn, incident_ids: Sequence[str]) -> Snapshot:
    """Drill incidents whose time limit came, locked as a person's resolve locks them (their firing alerts first,
    then the incidents), skipping an incident another transaction holds: it is ended at the next pass."""
    rows = await conn.fetch(
        f"SELECT {_ALERT_COLUMNS} FROM router_alert WHERE incident_id = ANY($1::text[]) AND status = 'firing' "  # noqa: S608
        "ORDER BY dedup_key FOR UPDATE",
        sorted(incident_ids),
    )
    alerts = {row["dedup_key"]: alert_from_row(row) for row in rows}
    incidents = await read_incidents(conn, incident_ids, [], FAR_FUTURE, lock=True, skip_locked=True)
    return Snapshot(alerts=alerts, incidents=incidents)


async def for_incident(conn: Conn, incident_id: str, *, lock: bool = True) -> Snapshot:
    """One incident and its firing alerts, for a person's action: alerts are locked before the incident."""
    suffix = " ORDER BY dedup_key FOR UPDATE" if lock else ""
    rows = await conn.fetch(
        f"SELECT {_ALERT_COLUMNS} FROM router_alert WHERE incident_id = $1 AND status = 'firing'{suffix}",  # noqa: S608
        incident_id,
    )
    alerts = {row["dedup_key"]: alert_from_row(row) for row in rows}
    incidents = await read_incidents(conn, [incident_id], [], FAR_FUTURE, lock=lock)
    return Snapshot(alerts=alerts, incidents=incidents)
