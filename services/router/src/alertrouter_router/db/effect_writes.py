"""Writing what ``decide`` returned: one statement per table per batch (``unnest`` arrays, asyncpg, no ORM), and
consecutive inserts sent as one statement (data-modifying CTEs), so a batch of alerts is one round trip.

Incidents are written before alerts (an alert points at its incident), cancellations before new steps and pages,
decisions last. Every insert is idempotent (unique keys), so a batch written twice leaves one copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from alertrouter_router.db.pool import Conn
from alertrouter_router.decisions import Decision
from alertrouter_router.decisions.alerts import Alert
from alertrouter_router.decisions.beats import Beat
from alertrouter_router.decisions.decide import Effects
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.incidents import Incident
from alertrouter_shared.events import Page


@dataclass(frozen=True)
class _Column:
    name: str
    pg_type: str
    value: Callable[[Any], Any]
    json: bool = False


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _enum(value: Any) -> Any:
    return value.value if value is not None and hasattr(value, "value") else value


def _attr(name: str, convert: Callable[[Any], Any] = lambda v: v) -> Callable[[Any], Any]:
    return lambda item: convert(getattr(item, name))


def _col(name: str, pg_type: str, convert: Callable[[Any], Any] = lambda v: v, *, json: bool = False) -> _Column:
    return _Column(name, pg_type, _attr(name, convert), json)


_TS = "timestamptz"
_ALERT = (
    _col("dedup_key", "text"),
    _col("status", "text", _enum),
    _col("incident_id", "text"),
    _col("suppressed_by", "text", _enum),
    _col("recheck_at", _TS),
    _col("service_id", "text"),
    _col("team_id", "text"),
    _col("policy_id", "text"),
    _col("source", "text"),
    _col("integration_id", "text"),
    _col("bound_service", "text"),
    _col("summary", "text"),
    _col("severity", "text"),
    _col("labels", "text", _json, json=True),
    _col("episode_started_at", _TS),
    _col("episode_opened_at", _TS),
    _col("first_event_at", _TS),
    _col("last_event_at", _TS),
    _col("repeat_count", "int"),
    _col("resolved_at", _TS),
    _col("updated_at", _TS),
    _col("drill", "bool"),
    _col("drill_ends_at", _TS),
    _col("resolved_by_source", "bool"),
    _col("no_route_version", "text"),
)
_INCIDENT = (
    _col("id", "text"),
    _col("dedup_key", "text"),
    _col("status", "text", _enum),
    _col("service_id", "text"),
    _col("team_id", "text"),
    _col("policy_id", "text"),
    _col("summary", "text"),
    _col("severity", "text"),
    _col("labels", "text", _json, json=True),
    _col("alert_count", "int"),
    _col("firing_count", "int"),
    _col("group_key", "text"),
    _col("opened_at", _TS),
    _col("first_event_at", _TS),
    _col("last_event_at", _TS),
    _col("acknowledged_at", _TS),
    _col("acknowledged_by", "text"),
    _col("resolved_at", _TS),
    _col("resolved_by", "text"),
    _col("config_version", "text"),
    _col("round_base", "int"),
    _col("last_round", "int"),
    _col("last_level", "int"),
    _col("step_round", "int"),
    _col("retrigger_at", _TS),
    _col("drill", "bool"),
    _col("drill_ends_at", _TS),
)


def _upsert_sql(table: str, columns: Sequence[_Column], key: str) -> str:
    names = ", ".join(c.name for c in columns)
    arrays = ", ".join(f"${i}::{c.pg_type}[]" for i, c in enumerate(columns, 1))
    selected = ", ".join(f"{c.name}::jsonb" if c.json else c.name for c in columns)
    updates = ", ".join(f"{c.name} = EXCLUDED.{c.name}" for c in columns if c.name != key)
    return (
        f"INSERT INTO {table} ({names}) SELECT {selected} FROM unnest({arrays}) AS t({names}) "  # noqa: S608 constants
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


_ALERT_UPSERT = _upsert_sql("router_alert", _ALERT, "dedup_key")
_INCIDENT_UPSERT = _upsert_sql("router_incident", _INCIDENT, "id")


def _arrays(columns: Sequence[_Column], items: Sequence[Any]) -> list[list[Any]]:
    return [[column.value(item) for item in items] for column in columns]


@dataclass(frozen=True)
class _Statement:
    """One statement of a write, its parameters numbered from $1; a *barrier* changes rows that an insert of the
    same write may touch (so it is never merged with one: a statement does not see its own changes)."""

    sql: str
    args: Sequence[Any]
    barrier: bool = False
    returns_ids: bool = False


def _incidents(incidents: Sequence[Incident]) -> _Statement | None:
    return _Statement(_INCIDENT_UPSERT, _arrays(_INCIDENT, incidents)) if incidents else None


def _alerts(alerts: Sequence[Alert]) -> _Statement | None:
    return _Statement(_ALERT_UPSERT, _arrays(_ALERT, alerts)) if alerts else None


def _resolved_members(incident_ids: Sequence[str], now: datetime) -> _Statement | None:
    if not incident_ids:
        return None
    return _Statement(
        "UPDATE router_alert SET status = 'resolved', resolved_at = $2, suppressed_by = NULL, recheck_at = NULL, "
        "resolved_by_source = false, updated_at = $2 WHERE incident_id = ANY($1::text[]) AND status = 'firing'",
        (list(incident_ids), now),
        barrier=True,
    )


def _stopped_steps(incident_ids: Sequence[str]) -> _Statement | None:
    if not incident_ids:
        return None
    return _Statement(
        "UPDATE router_escalation_step SET status = 'cancelled' WHERE incident_id = ANY($1::text[]) "
        "AND status = 'pending'",
        (list(incident_ids),),
        barrier=True,
    )


def _unsent_pages_dropped(incident_ids: Sequence[str]) -> _Statement | None:
    if not incident_ids:
        return None
    return _Statement(
        "DELETE FROM router_outbox WHERE incident_id = ANY($1::text[]) AND published_at IS NULL",
        (list(incident_ids),),
        barrier=True,
    )


def _fired(steps: Sequence[Step], now: datetime) -> _Statement | None:
    if not steps:
        return None
    return _Statement(
        "UPDATE router_escalation_step AS s SET status = 'done', fired_at = $4 FROM unnest($1::text[], $2::int[], "
        "$3::int[]) AS f(incident_id, round, level) WHERE s.incident_id = f.incident_id AND s.round = f.round "
        "AND s.level = f.level AND s.status = 'pending'",
        ([s.incident_id for s in steps], [s.round for s in steps], [s.level for s in steps], now),
        barrier=True,
    )


def _new_steps(steps: Sequence[Step]) -> _Statement | None:
    if not steps:
        return None
    return _Statement(
        "INSERT INTO router_escalation_step (incident_id, round, level, due_at, status) "
        "SELECT i, r, l, d, 'pending' "
        "FROM unnest($1::text[], $2::int[], $3::int[], $4::timestamptz[]) AS t(i, r, l, d) "
        "ON CONFLICT ON CONSTRAINT uq_router_escalation_step_position DO NOTHING",
        ([s.incident_id for s in steps], [s.round for s in steps], [s.level for s in steps], [s.due_at for s in steps]),
    )


def _pages(pages: Sequence[Page]) -> _Statement | None:
    """Into the outbox, with the change that caused them; a page id already there is the same page."""
    if not pages:
        return None
    return _Statement(
        "INSERT INTO router_outbox (page_id, incident_id, payload, created_at, send_at) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) "
        "ON CONFLICT (page_id) DO NOTHING",
        (
            [p.page_id for p in pages],
            [p.incident_id for p in pages],
            [p.model_dump_json() for p in pages],
            [p.created_at for p in pages],
            [p.send_at for p in pages],
        ),
    )


def _beats(beats: Sequence[Beat]) -> _Statement | None:
    """One beat per integration (``Effects.beats``): two in one upsert, a backlog of beats in one poll, made
    PostgreSQL refuse it ("ON CONFLICT DO UPDATE command cannot affect row a second time")."""
    if not beats:
        return None
    return _Statement(
        "INSERT INTO router_heartbeat (integration_id, service_id, last_beat_at, due_at, state) "
        "SELECT i, s, b, d, 'ok' FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) "
        "AS t(i, s, b, d) ON CONFLICT (integration_id) DO UPDATE SET service_id = EXCLUDED.service_id, "
        "last_beat_at = EXCLUDED.last_beat_at, due_at = EXCLUDED.due_at, state = 'ok', silent_since = NULL",
        (
            [b.integration_id for b in beats],
            [b.service_id for b in beats],
            [b.at for b in beats],
            [b.due_at for b in beats],
        ),
    )


def _decisions(decisions: Sequence[Decision], at: datetime) -> _Statement | None:
    """Returns the ids inserted (an event or step already decided is skipped)."""
    if not decisions:
        return None
    return _Statement(
        "INSERT INTO router_decision (id, event_id, step_key, incident_id, dedup_key, kind, outcome, reason, "
        "service_id, team_id, policy_id, level, config_version, created_at, explanation) "
        "SELECT id, event_id, step_key, incident_id, dedup_key, kind, outcome, reason, service_id, team_id, "
        "policy_id, level, config_version, $14, explanation::jsonb FROM unnest($1::text[], $2::text[], $3::text[], "
        "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "
        "$12::int[], $13::text[], $15::text[]) AS t(id, event_id, step_key, incident_id, dedup_key, kind, outcome, "
        "reason, service_id, team_id, policy_id, level, config_version, explanation) "
        "ON CONFLICT DO NOTHING RETURNING id",
        (
            [d.id for d in decisions],
            [d.event_id for d in decisions],
            [d.step_key for d in decisions],
            [d.incident_id for d in decisions],
            [d.dedup_key for d in decisions],
            [d.kind.value for d in decisions],
            [d.outcome.value for d in decisions],
            [d.reason for d in decisions],
            [d.service_id for d in decisions],
            [d.team_id for d in decisions],
            [d.policy_id for d in decisions],
            [d.level for d in decisions],
            [d.config_version for d in decisions],
            at,
            [_json(d.as_explanation()) for d in decisions],
        ),
        returns_ids=True,
    )


_PARAMETER = re.compile(r"\$(\d+)")


def _renumbered(sql: str, offset: int) -> str:
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


def _merged(run: Sequence[_Statement]) -> list[Any]:
    """Consecutive inserts as one statement: all but the last become data-modifying CTEs, parameters renumbered.

    PostgreSQL checks the foreign keys of the whole statement at its end, so a decision may point at an incident
    inserted by a CTE before it."""
    parts: list[str] = []
    args: list[Any] = []
    for statement in run:
        parts.append(_renumbered(statement.sql, len(args)))
        args += statement.args
    ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(parts[:-1]))
    return [f"WITH {ctes} {parts[-1]}" if ctes else parts[-1], *args]


def _runs(statements: Sequence[_Statement]) -> list[list[_Statement]]:
    """The statements in their order, consecutive inserts together, each barrier alone."""
    runs: list[list[_Statement]] = []
    for statement in statements:
        if runs and not statement.barrier and not runs[-1][-1].barrier:
            runs[-1].append(statement)
        else:
            runs.append([statement])
    return runs


async def write(conn: Conn, effects: Effects, now: datetime) -> list[Decision]:
    """Apply the effects inside the caller's transaction; returns the decisions that were new.

    Incidents before alerts (an alert points at its incident), cancellations before new steps and pages, decisions
    last (their ``RETURNING``). A batch of new or repeated alerts has no cancellation: one round trip."""
    statements = [
        _incidents(list(effects.incidents.values())),
        _alerts(list(effects.alerts.values())),
        _resolved_members(list(effects.resolved_members), now),
        _stopped_steps(sorted(effects.cancelled | effects.cancelled_steps)),
        _unsent_pages_dropped(sorted(effects.cancelled)),
        _fired(effects.fired, now),
        _new_steps(effects.steps),
        _pages(effects.pages),
        _beats(list(effects.beats.values())),
        _decisions(effects.decisions, now),
    ]
    inserted: set[str] = set()
    for run in _runs([s for s in statements if s is not None]):
        rows = await conn.fetch(*_merged(run))
        if run[-1].returns_ids:
            inserted = {row["id"] for row in rows}
    return [d for d in effects.decisions if d.id in inserted]


async def write_decisions(conn: Conn, decisions: Sequence[Decision], now: datetime) -> list[Decision]:
    """Decisions alone, outside a routing unit (an alert the database refused to store); returns the new ones."""
    statement = _decisions(decisions, now)
    if statement is None:
        return []
    inserted = {row["id"] for row in await conn.fetch(statement.sql, *statement.args)}
    return [d for d in decisions if d.id in inserted]


async def write_pages(conn: Conn, pages: Sequence[Page]) -> None:
    """Outbox rows written outside a routing unit (shift reminders)."""
    statement = _pages(pages)
    if statement is not None:
        await conn.execute(statement.sql, *statement.args)
