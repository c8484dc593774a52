"""The shift-reminder ledger (``router_shift_reminder``): claiming reminders once, and forgetting old ones.

A row is the proof a reminder was sent; it only has to outlive the shift it is about (a pass never looks back
further than its last run), so rows of shifts that ended ``KEEP`` ago are deleted -- never the row of a reminder
still due: an override's stays due while it runs, and one running past the horizon has the horizon's end on record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from alertrouter_router.db.pool import Conn
from alertrouter_router.ownership.reminders import Reminder

KEEP = timedelta(days=30)  # the audit of who was reminded of what, a month back; then the rows go


async def claim_reminders(conn: Conn, due: Sequence[Reminder], page_ids: Sequence[str], now: datetime) -> set[str]:
    """Insert each reminder's row (ON CONFLICT DO NOTHING): the page ids of the rows this call inserted."""
    rows = await conn.fetch(
        "INSERT INTO router_shift_reminder (user_id, schedule_id, shift_start, shift_end, remind_at, "
        "override, page_id, claimed_at) SELECT u, s, st, en, r, o, p, $8 FROM unnest($1::text[], $2::text[], "
        "$3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::bool[], $7::text[]) "
        "AS t(u, s, st, en, r, o, p) ON CONFLICT DO NOTHING RETURNING page_id",
        [r.user_id for r in due],
        [r.schedule_id for r in due],
        [r.starts_at for r in due],
        [r.ends_at for r in due],
        [r.remind_at for r in due],
        [r.override for r in due],
        list(page_ids),
        now,
    )
    return {row["page_id"] for row in rows}


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
