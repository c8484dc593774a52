"""Reading what the on-call health report needs: set-based statements, plain rows (``reports.py`` decides).

The statements narrow by window and, for a team, by its services (or the team stored on the incident); drills
and the exact window boundaries of pages are left to the pure report, which owns every rule. Each page carries the
person's time zone in the configuration version its decision recorded (``router_config_version``, kept since
migration 0011): night and weekend are judged as they were when the person was woken, whatever a reload did since.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from alertrouter_router.db.pool import Conn
from alertrouter_router.reports import IncidentRow, PageRow

# A notification rule delays a contact method by at most a day (ownership model: delay_minutes ≤ 1440), so every
# notification of a page is due within a day after its first: reading a day earlier finds each page's first one.
MAX_NOTIFICATION_DELAY = timedelta(days=1)

_TEAM_FILTER = "($3::text IS NULL OR i.service_id = ANY($4::text[]) OR i.team_id = $3)"

_INCIDENTS = f"""
SELECT i.id, i.service_id, i.team_id, i.opened_at, i.resolved_at, i.drill,
       LEAST(d.first_ack, i.acknowledged_at) AS acknowledged_at, d.highest_level
FROM router_incident i
LEFT JOIN LATERAL (
    SELECT min(created_at) FILTER (WHERE outcome = 'acknowledged') AS first_ack,
           max(level) FILTER (WHERE outcome = 'paged') AS highest_level
    FROM router_decision WHERE incident_id = i.id
) d ON true
WHERE i.opened_at >= $1 AND i.opened_at < $2 AND {_TEAM_FILTER}
"""  # noqa: S608  # a constant

_PAGES = f"""
SELECT o.incident_id, p.payload->>'decision_id' AS decision_id, p.payload->>'user_id' AS user_id,
       i.service_id, i.team_id, o.send_at AS at, i.drill OR coalesce((p.payload->>'drill')::boolean, false) AS drill,
       d.config_version
FROM router_outbox o
JOIN router_incident i ON i.id = o.incident_id
CROSS JOIN LATERAL (SELECT o.payload::jsonb AS payload) p
LEFT JOIN router_decision d ON d.id = p.payload->>'decision_id'
WHERE o.send_at >= $1 AND o.send_at < $2 AND o.published_at IS NOT NULL
  AND p.payload->>'kind' = 'trigger' AND {_TEAM_FILTER}
"""  # noqa: S608  # a constant


# The people's time zones of the kept configuration versions the pages were decided under (a version kept twice,
# after a return to it, has the same content).
_ZONES = """
SELECT DISTINCT v.version, u->>'id' AS user_id, u->>'time_zone' AS time_zone
FROM router_config_version v
CROSS JOIN LATERAL jsonb_array_elements(v.content->'users') u
WHERE v.version = ANY($1::text[])
"""


async def incidents(
    conn: Conn, since: datetime, until: datetime, team: str | None, services: Sequence[str]
) -> list[IncidentRow]:
    """Incidents opened in [since, until): the first acknowledgement comes from the decisions, since a snooze
    running out or an "escalate now" clears the incident's own ``acknowledged_at``."""
    rows = await conn.fetch(_INCIDENTS, since, until, team, list(services))
    return [IncidentRow(**dict(row)) for row in rows]


async def notifications(
    conn: Conn, since: datetime, until: datetime, team: str | None, services: Sequence[str]
) -> list[PageRow]:
    """Published trigger notifications due in [since - a day, until) (status updates are not pages), each with
    the person's time zone in the configuration that decided it (None when that version is not kept)."""
    rows = [dict(row) for row in await conn.fetch(_PAGES, since - MAX_NOTIFICATION_DELAY, until, team, list(services))]
    versions = sorted({row["config_version"] for row in rows if row["config_version"] is not None})
    zones: dict[tuple[str, str], str] = {}
    if versions:
        for zone in await conn.fetch(_ZONES, versions):
            zones[(zone["version"], zone["user_id"])] = zone["time_zone"]
    return [
        PageRow(
            **{k: v for k, v in row.items() if k != "config_version"},
            time_zone=zones.get((row["config_version"], row["user_id"])),
        )
        for row in rows
    ]
