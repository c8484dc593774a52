"""A router process's first shift-reminder pass, on a database of its own with a clock the test sets: an override
removed while no pass ran (the only router restarting, or the replica that served the removal stopped before its
pass) tells whoever it puts back on call. Before, the first pass of a process did not look back, and ben, on call
again, was never told."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alertrouter_router.shift_reminders import send_due_reminders
from alertrouter_router.state import RouterState
from alertrouter_shared.events import PageKind
from tests.helpers import DatabaseFactory
from tests.router.loop_support import T0, handed_over, migrated_database, reminder_process, set_clock

OWNERSHIP = """\
users:
  - id: ben
    name: Ben
    time_zone: UTC
    contact_methods: [{id: ben-mail, type: email, address: ben@example.test}]
  - id: cara
    name: Cara
    time_zone: UTC
    contact_methods: [{id: cara-mail, type: email, address: cara@example.test}]
  - id: dana
    name: Dana
    time_zone: UTC
    contact_methods: [{id: dana-mail, type: email, address: dana@example.test}]
schedules:
  - id: rota
    name: Rota
    time_zone: UTC
    layers:
      - id: always
        participants: [ben]
        start: "2020-01-06T00:00:00"
        turn: {weeks: 1}
  - id: nights
    name: Nights
    time_zone: UTC
    layers:  # ben from 21:50 to 09:50, dana the other half
      - id: halves
        participants: [dana, ben]
        start: "2020-01-06T09:50:00"
        turn: {hours: 12}
"""


@pytest.fixture(scope="module")
def reminder_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "ownership.yaml").write_text(OWNERSHIP, encoding="utf-8")
    return tmp_path


async def _removed_override(
    state: RouterState, user: str, starts: datetime, removed: datetime, schedule: str = "rota"
) -> None:
    async with state.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO router_schedule_override (id, schedule_id, user_id, starts_at, ends_at, created_by, "
            "created_at, deleted_at) VALUES ($1, $6, $2, $3, $4, 'user:test', $3, $5)",
            str(uuid.uuid4()),
            user,
            starts,
            starts + timedelta(hours=4),
            removed,
            schedule,
        )


async def test_an_override_removed_while_no_pass_ran_is_told_by_the_next_process(
    reminder_database: str, config_dir: Path
) -> None:
    async with reminder_process(reminder_database, config_dir) as state:
        # cara covered ben from an hour ago; her cover was removed 20 minutes ago, and no pass has run since
        removed_at = T0 - timedelta(minutes=20)
        await _removed_override(state, "cara", T0 - timedelta(hours=1), removed_at)
        # one removed three hours ago, past the first pass's look back: ben was told then, or it is too late
        await _removed_override(state, "cara", T0 - timedelta(hours=3, minutes=30), T0 - timedelta(hours=3))
        # and one that gave ben back the last ten minutes of his night, over by now: nothing to tell
        await _removed_override(state, "cara", T0 - timedelta(hours=1), removed_at, schedule="nights")
        set_clock(state, T0)
        assert await send_due_reminders(state) == 2
        told, late = sorted(handed_over(state), key=lambda page: page.user_id)
        # dana's half of the nights began at 09:50, its reminder due while no pass ran: told late, not never
        assert late.user_id == "dana" and late.shift is not None and late.shift.starts_at == T0 - timedelta(minutes=10)
        assert late.summary.startswith("Your on-call shift for Nights started "), late.summary  # not "starts"
        assert (told.kind, told.user_id, told.contact_method.id) == (PageKind.SHIFT_REMINDER, "ben", "ben-mail")
        assert told.shift is not None and told.shift.starts_at == removed_at
        assert told.summary.startswith("An override for Rota was removed: you are on call again from ")

    async with reminder_process(reminder_database, config_dir) as state:  # another new process: claimed, not sent again
        set_clock(state, T0 + timedelta(minutes=1))
        assert await send_due_reminders(state) == 0
        assert handed_over(state) == []


async def test_an_override_removed_before_it_began_tells_whom_it_gives_hours_back(
    reminder_database: str, config_dir: Path
) -> None:
    """ben is on call in rota week after week; cara was to cover him from two hours on. Removed before it began,
    the override gave him those hours back and nobody told him: only overrides removed while they ran were read."""
    at = T0 + timedelta(days=1, hours=2)  # clear of the other test's removals and claims, and of dana's reminder
    async with reminder_process(reminder_database, config_dir) as state:
        set_clock(state, at - timedelta(minutes=1))
        assert await send_due_reminders(state) == 0  # the pass before the removal
        await _removed_override(state, "cara", at + timedelta(hours=2), at)
        set_clock(state, at + timedelta(seconds=30))
        assert await send_due_reminders(state) == 1
        (told,) = handed_over(state)
        assert (told.kind, told.user_id) == (PageKind.SHIFT_REMINDER, "ben")
        assert told.shift is not None and told.shift.starts_at == at + timedelta(hours=2)
        assert told.summary.startswith("An override for Rota was removed: you are on call again from ")

    async with reminder_process(reminder_database, config_dir) as state:  # a new process looks back an hour: claimed
        set_clock(state, at + timedelta(minutes=2))
        assert await send_due_reminders(state) == 0
