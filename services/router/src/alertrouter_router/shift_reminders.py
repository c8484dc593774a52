"""The shift-reminder pass of the timer loop: reminders that came due since the last pass, each sent once.

``ownership/reminders.py`` says which reminders are due between the last pass and now (pure, from the on-call
calculator, with the API overrides as stored when the pass runs). Each is claimed by inserting its (person,
schedule, shift start) row into ``router_shift_reminder`` (ON CONFLICT DO NOTHING), in the same transaction as its
page's outbox row: whichever router process inserts the row sends the page, a repeat (another process, the next
pass, a restart) inserts nothing and sends nothing. The page goes to the pages topic like any other, and the
notifier delivers it. Once an hour a pass also deletes the rows of shifts that ended a month ago, but not those of
reminders it found still due (``db/reminder_writes.py``). Each pass also looks for API overrides removed before
they ended since the last pass: whoever that puts back on call unannounced, and still is, is told at once
(``reinstated_reminders``). A process's first pass looks back an hour for both. Last, each pass compares the shifts
the ledger says were told (and those it claims now) with the calculator (``ownership/shift_changes.py``): whoever
an override has taken a told shift from, or whose shift now ends later or earlier than told, is told so at once,
each change claimed in the ledger rows as it is written (``claim_change``), so once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from alertrouter_router import overrides
from alertrouter_router.db.effect_writes import write_pages
from alertrouter_router.db.pool import Conn
from alertrouter_router.db.reminder_writes import (
    claim_change,
    claim_reminders,
    prune_reminders,
    reclaim_stood_down,
    told_shifts,
)
from alertrouter_router.decisions.paging import change_page, reminder_page
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.reminders import EndedOverride, Reminder, reinstated_reminders, reminders_due
from alertrouter_router.ownership.shift_changes import ShiftChange, shift_changes
from alertrouter_shared.events import Page
from alertrouter_shared.logging import get_logger

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

log = get_logger(__name__)

PRUNE_EVERY = timedelta(hours=1)
# Removals are looked for back to a little before the last pass: a removal committed just after that pass read
# its window still has an instant inside it. Repeats are harmless (the claim).
REMOVAL_OVERLAP = timedelta(minutes=5)
# A process's first pass looks back this far: a reminder due, or a removal made, while no pass ran (the only router
# restarting, or the replica that served the removal stopped before its pass) was never told. Only shifts not yet
# over are told.
FIRST_PASS_LOOKBACK = timedelta(hours=1)


async def send_due_reminders(state: RouterState) -> int:
    """One pass, at most every ``ROUTER_SHIFT_REMINDER_POLL_SECONDS``; returns how many reminders it claimed."""
    now = state.clock.now()
    last = state.reminders_checked_at
    if last is not None and (now - last).total_seconds() < state.settings.shift_reminder_poll_seconds:
        return 0
    prune = state.reminders_pruned_at is None or now - state.reminders_pruned_at >= PRUNE_EVERY
    claimed: list[Page] = []
    async with state.pool.acquire() as conn:
        config = await _with_stored_overrides(state, conn, now)
        # A process's first pass looks back too: a shift that began while no pass ran (the only router restarting
        # for an upgrade over its start) was never announced, its person told by nobody. Shifts over are left.
        due = [r for r in reminders_due(config.config, _first(last, now), now) if r.open_end or r.ends_at > now]
        since = now - FIRST_PASS_LOOKBACK if last is None else last - REMOVAL_OVERLAP
        ended = await overrides.ended_early(conn, since, now)
        removed = [EndedOverride(o.schedule_id, o.as_override(), at) for o, at in ended]
        due += [r for r in reinstated_reminders(config.config, removed) if r.open_end or r.ends_at > now]
        # a shift over within the look back may have been extended since (an override made late): still read
        changes = shift_changes(config.config, await told_shifts(conn, now - FIRST_PASS_LOOKBACK), due, now)
        if due or prune or changes:  # most passes find nothing to write: no transaction for them
            async with conn.transaction():
                claimed = await _claim(conn, config, due, now)
                claimed += await _claim_changes(conn, config, changes, now)
                if prune and (pruned := await prune_reminders(conn, now, due)):
                    log.info("shift_reminders_pruned", count=pruned)
    if prune:
        state.reminders_pruned_at = now
    state.reminders_checked_at = now
    if claimed:
        state.publisher.hand_over(claimed, now)
        for page in claimed:
            log.info("shift_reminder", user_id=page.user_id, schedule_id=page.shift.schedule_id if page.shift else "")
    return len(claimed)


def _first(last: datetime | None, now: datetime) -> datetime:
    """Where a pass's window of due reminders starts: the last pass, or the look back of a process's first."""
    return now - FIRST_PASS_LOOKBACK if last is None else min(last, now)


async def _with_stored_overrides(state: RouterState, conn: Conn, now: datetime) -> LoadedConfig:
    """The configuration with the API's overrides as stored now. The process's copy is read every
    ``ROUTER_OVERRIDES_POLL_SECONDS``, which a page can afford (the next one goes to the right person) but a reminder
    cannot: one made on another replica since told the person it had just taken the shift from, once and for good."""
    state.configs.use(await overrides.in_effect(conn, now))
    return state.configs.current


async def _claim(conn: Conn, config: LoadedConfig, due: list[Reminder], now: datetime) -> list[Page]:
    """Each due reminder's row, and the page of each row this call inserted into the outbox (caller's transaction)."""
    if not due:
        return []
    pages = {r.id: reminder_page(config, r, now) for r in due}
    won = await claim_reminders(conn, due, [pages[r.id].page_id for r in due], now)
    claimed = [page for page in pages.values() if page.page_id in won]
    # a shift its person was told they are no longer on call for, theirs again before it began: told again
    rest = [r for r in due if pages[r.id].page_id not in won]
    again = {r.id: reminder_page(config, r, now, again=True) for r in rest}
    if rest and (taken := await reclaim_stood_down(conn, rest, [again[r.id].page_id for r in rest], now)):
        claimed += [page for page in again.values() if page.page_id in taken]
    if claimed:
        await write_pages(conn, claimed)
    return claimed


async def _claim_changes(conn: Conn, config: LoadedConfig, changes: list[ShiftChange], now: datetime) -> list[Page]:
    """The notice of each change this call recorded first in the ledger, into the outbox (caller's transaction)."""
    notices = [change_page(config, change, now) for change in changes if await claim_change(conn, change, now)]
    if notices:
        await write_pages(conn, notices)
    return notices
