"""Migration 0004 on data the first router wrote: alerts come from incidents, swallowed pages are given back."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
from alembic import command

from alertrouter_router.db.migrate import alembic_config
from alertrouter_router.db.pool import connect_arguments
from tests.helpers import DatabaseFactory

NOW = datetime.now(UTC)

_INCIDENT = (
    "INSERT INTO router_incident (id, dedup_key, status, service_id, team_id, policy_id, labels, opened_at, "
    "first_event_at, last_event_at, resolved_at, episode_started_at) VALUES ($1, $2, $3, 'checkout', 'payments', "
    "'payments-default', '{}', $4, $4, $4, $5, $4)"
)
_DECISION = (
    "INSERT INTO router_decision (id, event_id, incident_id, dedup_key, kind, outcome, reason, created_at, explanation)"
    " VALUES ($1, $1, $2, $3, 'event', $4, $5, now(), $6::jsonb)"
)


async def _seed(url: str) -> None:
    conn = await asyncpg.connect(**connect_arguments(url))
    try:
        rows = [
            # id, key, status, resolved_at, outcome, reason, suppressed_by
            ("i-paged", "k-paged", "triggered", None, "paged", "paged level 1", None),
            (
                "i-maint",
                "k-maint",
                "triggered",
                None,
                "suppressed",
                "service checkout is in maintenance",
                "maintenance",
            ),
            ("i-stale", "k-stale", "triggered", None, "suppressed", "event was received 1000s ago", "stale"),
            ("i-tomb", "k-tomb", "resolved", NOW + timedelta(days=3650), "resolved", "no open incident: kept", None),
        ]
        for n, (incident_id, key, status, resolved_at, outcome, reason, by) in enumerate(rows):
            await conn.execute(_INCIDENT, incident_id, key, status, NOW - timedelta(minutes=5), resolved_at)
            explanation = json.dumps({"event": {"source": "alertmanager", "integration": "am"}, "suppressed_by": by})
            await conn.execute(_DECISION, f"d-{n}", incident_id, key, outcome, reason, explanation)
    finally:
        await conn.close()


async def test_upgrade_turns_incidents_into_alerts_and_releases_swallowed_ones(databases: DatabaseFactory) -> None:
    url = databases.create()
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0003")
    await _seed(url)
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    conn = await asyncpg.connect(**connect_arguments(url))
    try:
        alerts = {
            r["dedup_key"]: r
            for r in await conn.fetch(
                "SELECT dedup_key, status, incident_id, suppressed_by, recheck_at, resolved_at FROM router_alert"
            )
        }
        incidents = {r["id"]: r for r in await conn.fetch("SELECT id, status, firing_count FROM router_incident")}
        orphans = await conn.fetchval("SELECT count(*) FROM router_decision WHERE incident_id IS NULL")
    finally:
        await conn.close()
    assert (alerts["k-paged"]["status"], alerts["k-paged"]["incident_id"]) == ("firing", "i-paged")
    assert incidents == {"i-paged": incidents["i-paged"]} and incidents["i-paged"]["firing_count"] == 1
    # The never-paged maintenance incident is gone; its alert is due for a recheck now, so it pages if still firing.
    assert (alerts["k-maint"]["status"], alerts["k-maint"]["suppressed_by"]) == ("suppressed", "maintenance")
    assert alerts["k-maint"]["recheck_at"] is not None and alerts["k-maint"]["recheck_at"] <= datetime.now(UTC)
    # A stale one waits for the next fresh trigger.
    assert (alerts["k-stale"]["suppressed_by"], alerts["k-stale"]["recheck_at"]) == ("stale", None)
    # The tombstone is no incident any more; the resolve stays on the alert, its future time clamped.
    assert alerts["k-tomb"]["status"] == "resolved" and alerts["k-tomb"]["incident_id"] is None
    assert alerts["k-tomb"]["resolved_at"] <= datetime.now(UTC)
    assert orphans == 3  # decisions stay, detached from the incidents that were removed


def test_a_url_encoded_password_survives_the_alembic_configuration() -> None:
    """configparser interpolation used to read '%40' in a password as a reference and fail."""
    url = "postgresql+asyncpg://router:p%40ss%25word@127.0.0.1:5432/alertrouter"
    assert alembic_config(url).get_main_option("sqlalchemy.url") == url


async def test_upgrade_gives_open_incidents_the_highest_round_of_their_steps(databases: DatabaseFactory) -> None:
    """Migration 0017: an open incident with a nobody-reachable retry already waiting at round 2 must start its
    next cycle after it; a resolved one needs no such care."""
    url = databases.create()
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0016_calendar_feed_token")
    conn = await asyncpg.connect(**connect_arguments(url))
    try:
        for incident_id, status in (("i-open", "triggered"), ("i-closed", "resolved")):
            await conn.execute(
                "INSERT INTO router_incident (id, dedup_key, status, labels, opened_at, first_event_at, last_event_at)"
                " VALUES ($1, $1, $2, '{}', $3, $3, $3)",
                incident_id,
                status,
                NOW,
            )
            for round_, level, state in ((0, 1, "done"), (1, 1, "done"), (2, 1, "pending")):
                await conn.execute(
                    "INSERT INTO router_escalation_step (incident_id, round, level, due_at, status)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    incident_id,
                    round_,
                    level,
                    NOW,
                    state,
                )
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        rows = {r["id"]: r["step_round"] for r in await conn.fetch("SELECT id, step_round FROM router_incident")}
    finally:
        await conn.close()
    assert rows == {"i-open": 2, "i-closed": 0}
