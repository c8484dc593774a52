"""History older than ``ROUTER_RETENTION_DAYS`` deleted, in batches, so the database does not grow for ever.

Only what no decision reads again goes: incidents resolved before the cutoff whose alerts have been silent since
(their steps, outbox rows, timeline, decisions and alerts with them), decisions and alerts of no incident (no
route, suppressed, resolved) older than the cutoff, change events, maintenance windows and drills over before it.
Silent means no event stored after the cutoff and no decision about the incident made after it: Alertmanager
repeats a firing alert with its start as the event's time, so a source still reporting an episode a person resolved
shows only in the decisions ("already resolved"), and deleting its incident and alert made the next repeat page.
An alert still heard from keeps its incident: a firing alert's row is its deduplication. The audit trail has a
retention of its own (``ROUTER_AUDIT_RETENTION_DAYS``, at least a year: a security record outlives the incidents);
configuration versions, tokens and overrides are not touched (small, and what the audit trail refers to).

Every batch is one transaction; rows are taken with SKIP LOCKED, so two replicas pruning at once share the work,
and the live path, which locks alerts and incidents too, is never waited for.
"""

from __future__ import annotations

from datetime import datetime

from alertrouter_router.db.pool import Conn

_OLD_INCIDENTS = (
    "SELECT id FROM router_incident AS i WHERE status = 'resolved' AND resolved_at < $1 "
    "AND NOT EXISTS (SELECT 1 FROM router_alert AS a WHERE a.incident_id = i.id AND a.last_event_at >= $1) "
    "AND NOT EXISTS (SELECT 1 FROM router_decision AS d WHERE d.incident_id = i.id AND d.created_at >= $1) "
    "LIMIT $2 FOR UPDATE SKIP LOCKED"
)
# Children first (foreign keys, or rows no longer reachable from anything).
_INCIDENT_CHILDREN = (
    ("router_escalation_step", "DELETE FROM router_escalation_step WHERE incident_id = ANY($1::text[])"),
    ("router_outbox", "DELETE FROM router_outbox WHERE incident_id = ANY($1::text[])"),
    ("router_timeline", "DELETE FROM router_timeline WHERE incident_id = ANY($1::text[])"),
    ("router_decision", "DELETE FROM router_decision WHERE incident_id = ANY($1::text[])"),
    ("router_alert", "DELETE FROM router_alert WHERE incident_id = ANY($1::text[])"),
    ("router_incident", "DELETE FROM router_incident WHERE id = ANY($1::text[])"),
)
# Rows of no incident, oldest first; each statement deletes at most $2 rows.
_UNATTACHED = (
    (
        "router_decision",
        "DELETE FROM router_decision WHERE id IN (SELECT id FROM router_decision WHERE incident_id IS NULL "
        "AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "router_alert",
        "DELETE FROM router_alert WHERE dedup_key IN (SELECT dedup_key FROM router_alert WHERE incident_id IS NULL "
        "AND last_event_at < $1 AND status = 'resolved' LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "router_change_event",
        "DELETE FROM router_change_event WHERE event_id IN (SELECT event_id FROM router_change_event "
        "WHERE occurred_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "router_maintenance_window",
        "DELETE FROM router_maintenance_window WHERE id IN (SELECT id FROM router_maintenance_window "
        "WHERE ends_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
    (
        "router_drill",
        "DELETE FROM router_drill WHERE id IN (SELECT id FROM router_drill WHERE started_at < $1 "
        "AND (ends_at IS NULL OR ends_at < $1) LIMIT $2 FOR UPDATE SKIP LOCKED)",
    ),
)


_AUDIT = (
    "DELETE FROM router_audit WHERE seq IN (SELECT seq FROM router_audit WHERE at < $1 ORDER BY seq LIMIT $2 "
    "FOR UPDATE SKIP LOCKED)"
)


async def prune_batch(
    conn: Conn, cutoff: datetime | None, limit: int, audit_cutoff: datetime | None = None
) -> dict[str, int]:
    """One batch of history older than ``cutoff`` and of audit entries older than ``audit_cutoff`` deleted (None:
    kept); table -> rows deleted (empty: nothing was left)."""
    deleted: dict[str, int] = {}
    async with conn.transaction():
        if cutoff is not None:
            incidents = [r["id"] for r in await conn.fetch(_OLD_INCIDENTS, cutoff, limit)]
            if incidents:
                for table, statement in _INCIDENT_CHILDREN:
                    deleted[table] = deleted.get(table, 0) + _count(await conn.execute(statement, incidents))
            for table, statement in _UNATTACHED:
                deleted[table] = deleted.get(table, 0) + _count(await conn.execute(statement, cutoff, limit))
        if audit_cutoff is not None:
            deleted["router_audit"] = _count(await conn.execute(_AUDIT, audit_cutoff, limit))
    return {table: count for table, count in deleted.items() if count}


def _count(status: str) -> int:
    return int(status.split()[-1])
