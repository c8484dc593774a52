"""The shift-reminder ledger on a real database: a reminder is claimed once, and rows of long-ended shifts go
(unless the pass found the reminder still due).

The timer pass around these (which reminders are due, the page it sends) is tested end to end in
tests/notifier/test_shift_reminders.py; here are the ledger's two statements and their edges.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.db.reminder_writes import KEEP, claim_reminders, prune_reminders
from alertrouter_router.ownership.people import ContactMethodSpec
from alertrouter_router.ownership.reminders import Reminder
from alertrouter_shared.events import ContactMethodType

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _reminder(user: str, ends_at: datetime) -> Reminder:
    starts_at = ends_at - timedelta(hours=12)
    return Reminder(
        user_id=user,
        schedule_id="primary",
        starts_at=starts_at,
        ends_at=ends_at,
        remind_at=starts_at - timedelta(hours=1),
        override=False,
        open_end=False,
        contact_method=ContactMethodSpec(id=f"{user}-mail", type=ContactMethodType.EMAIL, address=f"{user}@x.test"),
    )


async def test_a_reminder_is_claimed_once_and_rows_of_shifts_ended_a_month_ago_are_pruned(
    router_database_url: str,
) -> None:
    run = uuid.uuid4().hex[:8]
    old = _reminder(f"old-{run}", NOW - KEEP - timedelta(minutes=1))
    edge = _reminder(f"edge-{run}", NOW - KEEP + timedelta(minutes=1))
    upcoming = _reminder(f"new-{run}", NOW + timedelta(hours=13))
    # an override running past the horizon: its end on record is the horizon's, and it is still due
    running = _reminder(f"running-{run}", NOW - KEEP - timedelta(days=1))
    due = [old, edge, upcoming, running]
    conn = await asyncpg.connect(**connect_arguments(router_database_url))
    try:
        first = await claim_reminders(conn, due, [r.id for r in due], NOW)
        again = await claim_reminders(conn, due, [r.id for r in due], NOW + timedelta(seconds=5))
        assert first == {r.id for r in due}
        assert again == set()  # another pass, process or restart sends nothing twice

        pruned = await prune_reminders(conn, NOW, [running])
        left = await conn.fetch(
            "SELECT user_id FROM router_shift_reminder WHERE user_id = ANY($1::text[])", [r.user_id for r in due]
        )
        assert pruned >= 1
        assert sorted(row["user_id"] for row in left) == sorted([edge.user_id, upcoming.user_id, running.user_id])
        assert await claim_reminders(conn, [upcoming], [upcoming.id], NOW) == set()  # still remembered
    finally:
        await conn.close()
