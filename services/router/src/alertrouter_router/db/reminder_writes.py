"""The shift-reminder ledger (``router_shift_reminder``): claiming reminders once, and forgetting old ones.

A row is the proof a reminder was sent; it only has to outlive the shift it is about (a pass never looks back
further than its last run), so rows of shifts that ended ``KEEP`` ago are deleted -- never the row of a reminder
still due: an override's stays due while it runs, and one running past the horizon has the horizon's end on record.
A row also holds what the person was last told of the shift: its end (moved by an extension or a cut) and, once
told they are no longer on call for it, ``stood_down_at`` (``ownership/shift_changes.py``). Each change is claimed
by a conditional update, so one pass of one process tells it; a stood-down row's reminder, due again (the cover
removed before the shift began), takes the row back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from alertrouter_router.db.pool import Conn
from alertrouter_router.ownership.reminders import Reminder
from alertrouter_router.ownership.shift_changes import ShiftChange, Told

# a change is claimed in the rows of its told shift not stood down: a stand-down marks them; a later end is set
# where the told end still is, an earlier one on every row past it. A second process finds them changed: no row.
_STAND_DOWN = (
    "UPDATE router_shift_reminder SET stood_down_at = $4 WHERE user_id = $1 AND schedule_id = $2 "
    "AND shift_start = ANY($3) AND stood_down_at IS NULL RETURNING shift_start"
)
_MOVE_END = (
    "UPDATE router_shift_reminder SET shift_end = $4::timestamptz WHERE user_id = $1 AND schedule_id = $2 "
    "AND shift_start = ANY($3) AND stood_down_at IS NULL "
    "AND CASE WHEN $4::timestamptz > $5::timestamptz THEN shift_end = $5 ELSE shift_end > $4 END RETURNING shift_start"
)
KEEP = timedelta(days=30)  # the audit of who was reminded of what, a month back; then the rows go


def _columns(due: Sequence[Reminder], page_ids: Sequence[str]) -> tuple[list[Any], ...]:
    """The reminders as the parameter arrays $1..$7 of the claim and the reclaim (unnest order)."""
    return (
        [r.user_id for r in due],
        [r.schedule_id for r in due],
        [r.starts_at for r in due],
        [r.ends_at for r in due],
        [r.remind_at for r in due],
        [r.override for r in due],
        list(page_ids),
    )


async def claim_reminders(conn: Conn, due: Sequence[Reminder], page_ids: Sequence[str], now: datetime) -> set[str]:
    """Insert each reminder's row (ON CONFLICT DO NOTHING): the page ids of the rows this call inserted."""
    rows = await conn.fetch(
        "INSERT INTO router_shift_reminder (user_id, schedule_id, shift_start, shift_end, remind_at, "
        "override, page_id, claimed_at) SELECT u, s, st, en, r, o, p, $8 FROM unnest($1::text[], $2::text[], "
        "$3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::bool[], $7::text[]) "
        "AS t(u, s, st, en, r, o, p) ON CONFLICT DO NOTHING RETURNING page_id",
        *_columns(due, page_ids),
        now,
    )
    return {row["page_id"] for row in rows}


async def reclaim_stood_down(conn: Conn, due: Sequence[Reminder], page_ids: Sequence[str], now: datetime) -> set[str]:
    """Take back the rows of ``due`` whose person was told they are no longer on call for the shift (it is theirs
    again, so its reminder is due again): the page ids given to the rows this call took back."""
    rows = await conn.fetch(
        "UPDATE router_shift_reminder AS r SET shift_end = t.en, remind_at = t.rm, override = t.o, page_id = t.p, "
        "claimed_at = $8, stood_down_at = NULL FROM unnest($1::text[], $2::text[], $3::timestamptz[], "
        "$4::timestamptz[], $5::timestamptz[], $6::bool[], $7::text[]) AS t(u, s, st, en, rm, o, p) "
        "WHERE r.user_id = t.u AND r.schedule_id = t.s AND r.shift_start = t.st AND r.stood_down_at IS NOT NULL "
        "RETURNING r.page_id",
        *_columns(due, page_ids),
        now,
    )
    return {row["page_id"] for row in rows}


async def told_shifts(conn: Conn, since: datetime) -> list[Told]:
    """The rows of shifts that end after ``since``: what their people were last told."""
    rows = await conn.fetch(
        "SELECT user_id, schedule_id, shift_start, shift_end, override, stood_down_at IS NOT NULL AS stood_down "
        "FROM router_shift_reminder WHERE shift_end > $1",
        since,
    )
    return [
        Told(r["user_id"], r["schedule_id"], r["shift_start"], r["shift_end"], r["override"], r["stood_down"])
        for r in rows
    ]


async def claim_change(conn: Conn, change: ShiftChange, now: datetime) -> bool:
    """Record ``change`` in its rows if no process has yet (caller's transaction): whether this call did."""
    if change.new_end is None:
        rows = await conn.fetch(
            _STAND_DOWN,
            change.user_id,
            change.schedule_id,
            list(change.rows),
            now,
        )
    else:
        rows = await conn.fetch(
            _MOVE_END,
            change.user_id,
            change.schedule_id,
            list(change.rows),
            change.new_end,
            change.ends_at,
        )
    return bool(rows)


async def prune_reminders(conn: Conn, now: datetime, due: Sequence[Reminder]) -> int:
    """Delete the rows of shifts that ended more than ``KEEP`` ago, except those of ``due`` (the reminders due at
    this pass); returns how many. An override longer than the horizon (31 days) is recorded with the horizon's end,
    its own unknown, and stays due until it ends: its row went a month later and the next pass sent it again."""
    status = await conn.execute(
        "DELETE FROM router_shift_reminder WHERE shift_end < $1 AND (user_id, schedule_id, shift_start) NOT IN "
        "(SELECT * FROM unnest($2::text[], $3::text[], $4::timestamptz[]))",
        now - KEEP,
        [r.user_id for r in due],
        [r.schedule_id for r in due],
        [r.starts_at for r in due],
    )
    return int(status.split()[-1])
