"""The shift-reminder pass of the timer loop: reminders that came due since the last pass, each sent once.

``ownership/reminders.py`` says which reminders are due between the last pass and now (pure, from the on-call
calculator, API overrides included). Each is claimed by inserting its (person, schedule, shift start) row into
``router_shift_reminder`` (ON CONFLICT DO NOTHING), in the same transaction as its page's outbox row: whichever
router process inserts the row sends the page, a repeat (another process, the next pass, a restart) inserts
nothing and sends nothing. The page goes to the pages topic like any other, and the notifier delivers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alertrouter_router.db.effect_writes import write_pages
from alertrouter_router.ownership.reminders import reminders_due
from alertrouter_router.paging import reminder_page
from alertrouter_shared.logging import get_logger

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)


async def send_due_reminders(state: RouterState) -> int:
    """One pass, at most every ``ROUTER_SHIFT_REMINDER_POLL_SECONDS``; returns how many reminders it claimed."""
    now = state.clock.now()
    last = state.reminders_checked_at
    if last is not None and (now - last).total_seconds() < state.settings.shift_reminder_poll_seconds:
        return 0
    config = state.configs.current
    due = reminders_due(config.config, min(last or now, now), now)
    pages = {r.id: reminder_page(config, r, now) for r in due}
    claimed = []
    if due:
        async with state.pool.acquire() as conn, conn.transaction():
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
                [pages[r.id].page_id for r in due],
                now,
            )
            won = {row["page_id"] for row in rows}
            claimed = [page for page in pages.values() if page.page_id in won]
            if claimed:
                await write_pages(conn, claimed)
    state.reminders_checked_at = now
    if claimed:
        state.publisher.hand_over(claimed, now)
        for page in claimed:
            log.info("shift_reminder", user_id=page.user_id, schedule_id=page.shift.schedule_id if page.shift else "")
    return len(claimed)
