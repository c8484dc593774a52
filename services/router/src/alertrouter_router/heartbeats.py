"""Heartbeats: monitoring (or a job) that says "alive" on a schedule, and an incident when it goes silent.

A heartbeat integration (or an Alertmanager Watchdog receiver) beats; each beat is a resolve of the alert
``hb:<integration>`` and, here, a row with its time. The timer loop claims heartbeats past due — by the current
configuration: last beat plus interval plus grace, so a removed or disabled heartbeat is never raised and a
shortened interval acts at once — and raises their "gone silent" alert by producing a trigger to the alerts topic,
so it is routed, paged and explained through the normal path like any alert; the next beat resolves it. While a
heartbeat stays silent its alert is raised again (``decisions/beats.py``: ``repeat_every``), so a page lost to a
stale or out-of-order suppression, or an incident resolved while the job is still dead, pages again. Stored in
the database, a heartbeat survives a router restart: nothing is forgotten and no false alarm is raised.
Monitoring starts when a timer pass first sees the heartbeat configured (a row ``armed`` with no beat), not at its
first beat: a job whose heartbeat was wrong from the start (the URL, the key) pages once interval and grace pass.

A row's ``due_at`` is, while ``ok``, the due time computed at the beat (kept for reference: the timer and the
listing compute it from the current configuration); while ``silent``, the latest due time already raised; while
``armed``, when monitoring (re)started. A heartbeat no longer monitored (disabled, removed) is marked ``paused`` when
a process keeps the load that stopped it; monitored again, it is ``armed`` by the next timer pass and counts from
then (or from a later beat): its beats were refused meanwhile, so the beat before the pause says nothing of the
job now.

What a beat records and when and what a silence raises are decided in ``decisions/beats.py`` (pure); here, the
timer pass that raises them and the listing of the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from alertrouter_router.decisions import beats
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.model import Integration
from alertrouter_shared.kafka import produce_all
from alertrouter_shared.logging import get_logger
from alertrouter_shared.topics import ALERTS

if TYPE_CHECKING:
    from alertrouter_router.db.pool import Conn
    from alertrouter_router.state import RouterState

log = get_logger(__name__)

# The configured heartbeats joined in: a row of a heartbeat no longer configured (or disabled) is never due.
_DUE = (
    "SELECT h.integration_id, h.last_beat_at, h.state, h.due_at, h.silent_since, h.armed_at FROM router_heartbeat AS h "
    "JOIN unnest($1::text[], $2::int[], $3::int[]) AS c(id, allowance, every) ON c.id = h.integration_id "
    "WHERE h.state <> 'paused' "
    "AND COALESCE(GREATEST(h.last_beat_at, CASE WHEN h.state = 'armed' THEN h.due_at ELSE h.armed_at END)"
    " + c.allowance * interval '1 second', h.silent_since) < $4 "
    "AND (h.state <> 'silent' OR h.due_at + c.every * interval '1 second' < $4) "
    "ORDER BY h.integration_id LIMIT 100 FOR UPDATE OF h SKIP LOCKED"
)
_PAUSE = "UPDATE router_heartbeat SET state = 'paused' WHERE integration_id <> ALL($1::text[]) AND state <> 'paused'"
# A heartbeat configured but never heard of: armed now, with no beat (GREATEST above skips the NULL; silent and
# never beaten, it was overdue since silent_since).
_WATCH = (
    "INSERT INTO router_heartbeat (integration_id, service_id, last_beat_at, due_at, state, armed_at) "
    "SELECT c.id, c.service, NULL, $3, 'armed', $3 FROM unnest($1::text[], $2::text[]) AS c(id, service) "
    "WHERE NOT EXISTS (SELECT 1 FROM router_heartbeat AS h WHERE h.integration_id = c.id) "
    "ON CONFLICT (integration_id) DO NOTHING"
)
# Rows locked elsewhere (a beat being recorded, another replica's pass) are left to the next pass.
_ARM = (
    "UPDATE router_heartbeat SET state = 'armed', due_at = $2, armed_at = $2, silent_since = NULL "
    "WHERE integration_id IN "
    "(SELECT integration_id FROM router_heartbeat WHERE integration_id = ANY($1::text[]) AND state = 'paused' "
    "FOR UPDATE SKIP LOCKED)"
)


async def pause_unmonitored(conn: Conn, config: LoadedConfig) -> None:
    """At each load a process keeps, never at each timer pass: a process on other files (a rollout, a pod started
    with none) would pause them again at every pass, and one monitoring them arm them again, a dead job's alert
    put off for as long as that lasted."""
    await conn.execute(_PAUSE, [spec.id for spec in beats.monitored_heartbeats(config)])


async def raise_silent(state: RouterState) -> int:
    """One timer pass: heartbeats monitored for the first time, or again after a pause, are armed, and those past
    due raise their alert (produced to the alerts topic, then marked silent with the due time raised)."""
    now = state.clock.now()
    configured = {spec.id: spec for spec in beats.monitored_heartbeats(state.configs.current)}
    if not configured:
        return 0
    specs = list(configured.values())
    async with state.pool.acquire() as conn, conn.transaction():
        await conn.execute(_WATCH, list(configured), [s.service for s in specs], now)
        await conn.execute(_ARM, list(configured), now)
        rows = await conn.fetch(
            _DUE,
            [s.id for s in specs],
            [int(beats.allowance(s).total_seconds()) for s in specs],
            [int(beats.repeat_every(s).total_seconds()) for s in specs],
            now,
        )
        planned = (_due_raise(configured[r["integration_id"]], r, now) for r in rows)
        raises = [r for r in planned if r is not None]
        if not raises:
            return 0
        records = [(ALERTS, r.event.dedup_key.encode(), r.event.model_dump_json().encode()) for r in raises]
        await produce_all(state.producer, records, timeout=10)  # before the commit: a crash here raises it again
        await conn.execute(
            "UPDATE router_heartbeat AS h SET state = 'silent', due_at = t.covered, "
            "silent_since = COALESCE(h.silent_since, t.since) "
            "FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS t(id, covered, since) "
            "WHERE h.integration_id = t.id",
            [r.integration_id for r in raises],
            [r.covered for r in raises],
            [r.overdue_since for r in raises],
        )
    for one in raises:
        log.warning(
            "heartbeat_silent",
            integration=one.integration_id,
            due=one.due.isoformat(),
            event_id=str(one.event.event_id),
        )
    return len(raises)


def _raised_and_armed(
    spec: Integration, row: Mapping[str, Any], now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """What a row's ``due_at`` stands for: the due time last raised (silent) or when monitoring (re)started (armed;
    a paused row of a monitored heartbeat, which the next pass arms, counts from ``now``). Silent, from when
    monitoring started (``armed_at``: a beat since counts instead); a row armed before that column (migration 0023)
    and never beaten started an allowance before it was overdue (``silent_since``)."""
    if row["state"] == "paused":
        return None, now
    if row["state"] == "armed":
        return None, row["due_at"]
    if row["state"] != "silent":
        return None, None
    if (armed_at := row.get("armed_at")) is not None:
        return row["due_at"], armed_at
    never_beaten = row["last_beat_at"] is None and row["silent_since"] is not None
    return row["due_at"], row["silent_since"] - beats.allowance(spec) if never_beaten else None


def _due_raise(spec: Integration, row: Mapping[str, Any], now: datetime) -> beats.Raise | None:
    raised, armed = _raised_and_armed(spec, row)
    return beats.due_raise(spec, row["last_beat_at"], raised, now, armed)


def listing(config: LoadedConfig, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Every configured heartbeat with its state — ok, silent, waiting for its first beat, or disabled — and its
    next due time by the current configuration (for a silent one: when its alert is raised again), as the timer
    pass computes them."""
    by_id = {row["integration_id"]: row for row in rows}
    found = []
    for spec in config.config.integrations:
        if not spec.beats:
            continue
        row = by_id.get(spec.id)
        watched = beats.monitored(spec)
        silent = bool(row and row["state"] == "silent")
        due = None
        if row and watched:
            due = beats.next_due(spec, row["last_beat_at"], *_raised_and_armed(spec, row, now))
        state = "disabled" if not watched else "silent" if silent else "ok"
        if watched and not silent and (row is None or row["last_beat_at"] is None):
            state = "waiting for the first beat"
        found.append(
            {
                "integration": spec.id,
                "type": spec.type.value,
                "service": spec.service,
                "interval_seconds": spec.interval_seconds,
                "grace_seconds": spec.grace_seconds,
                "state": state,
                "last_beat_at": row["last_beat_at"].isoformat() if row and row["last_beat_at"] else None,
                "next_due_at": due.isoformat() if due else None,
                "overdue": bool(watched and not silent and due is not None and due < now),
                "silent_since": row["silent_since"].isoformat() if row and row["silent_since"] else None,
            }
        )
    return found
