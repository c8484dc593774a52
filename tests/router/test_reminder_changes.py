"""Changes to a shift already announced, told by the reminder pass on a database of the module's own with a clock
the test sets. Before, once ben had been told of his shift nothing told him that an override took all of it from
him, nor anna that the override she had been told of was removed before it began, nor ben that an override kept
him on call past the end he had been told. Each notice goes once, across passes and processes (the ledger)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alertrouter_router.shift_reminders import send_due_reminders
from alertrouter_router.state import RouterState
from alertrouter_shared.events import Page, PageKind
from tests.helpers import DatabaseFactory
from tests.router.loop_support import T0, handed_over, migrated_database, reminder_process, set_clock

# T0 is 10:00 UTC: ben's half starts at 10:30, so his reminder (an hour ahead) is due at T0; dana takes none
OWNERSHIP = """\
users:
  - id: anna
    name: Anna
    time_zone: UTC
    contact_methods: [{id: anna-chat, type: slack, address: U0ANNA}]
  - id: ben
    name: Ben
    time_zone: UTC
    contact_methods: [{id: ben-mail, type: email, address: ben@example.test}]
  - id: dana
    name: Dana
    time_zone: UTC
    shift_reminders: false
    contact_methods: [{id: dana-mail, type: email, address: dana@example.test}]
schedules:
  - id: rota
    name: Rota
    time_zone: UTC
    layers:  # ben from 10:30 to 22:30, dana the other half
      - id: halves
        participants: [ben, dana]
        start: "2020-01-06T10:30:00"
        turn: {hours: 12}
"""


@pytest.fixture(scope="module")
def reminder_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "ownership.yaml").write_text(OWNERSHIP, encoding="utf-8")
    return tmp_path


async def _override(state: RouterState, user: str, starts: datetime, ends: datetime, made: datetime) -> str:
    override_id = str(uuid.uuid4())
    async with state.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO router_schedule_override (id, schedule_id, user_id, starts_at, ends_at, created_by, "
            "created_at) VALUES ($1, 'rota', $2, $3, $4, 'user:test', $5)",
            override_id,
            user,
            starts,
            ends,
            made,
        )
    return override_id


async def _pass(state: RouterState, at: datetime) -> list[Page]:
    before = len(handed_over(state))
    set_clock(state, at)
    await send_due_reminders(state)
    return sorted(handed_over(state)[before:], key=lambda page: page.user_id)


async def test_an_override_that_takes_a_told_shift_and_its_removal_are_told_once(
    reminder_database: str, config_dir: Path
) -> None:
    shift = T0 + timedelta(minutes=30)
    async with reminder_process(reminder_database, config_dir) as state:
        (ben,) = await _pass(state, T0)
        assert ben.summary.startswith("Your on-call shift for Rota starts Mon 1 Mar 2027 10:30 UTC")
        # anna takes all of ben's half: she is told of her override, ben that he is no longer on call
        cover = await _override(state, "anna", shift, shift + timedelta(hours=12), T0 + timedelta(minutes=1))
        anna, ben = await _pass(state, T0 + timedelta(minutes=2))
        assert anna.summary.startswith("An override puts you on call for Rota from Mon 1 Mar 2027 10:30 UTC")
        assert (ben.kind, ben.contact_method.id, ben.summary) == (
            PageKind.SHIFT_REMINDER,
            "ben-mail",
            "You are no longer on call for Rota from Mon 1 Mar 2027 10:30 UTC until Mon 1 Mar 2027 22:30 UTC: "
            "Anna covers it (UTC).",
        )
        assert ben.shift is not None and ben.shift.change == "stood_down"  # headed SHIFT CHANGED, not ON CALL
        assert anna.shift is not None and anna.shift.change is None
        assert await _pass(state, T0 + timedelta(minutes=3)) == []  # told once

    async with reminder_process(reminder_database, config_dir) as state:  # another process: claimed, not again
        assert await _pass(state, T0 + timedelta(minutes=4)) == []
        async with state.pool.acquire() as conn:
            await conn.execute(
                "UPDATE router_schedule_override SET deleted_at = $2 WHERE id = $1",
                cover,
                T0 + timedelta(minutes=5),
            )
        # removed before it began: anna is told it was, and ben, whose half it is again, is told of it again
        anna, ben = await _pass(state, T0 + timedelta(minutes=6))
        assert anna.summary == (
            "An override for Rota was removed: you are no longer on call from Mon 1 Mar 2027 10:30 UTC "
            "until Mon 1 Mar 2027 22:30 UTC (UTC)."
        )
        assert anna.contact_method.id == "anna-chat" and anna.shift is not None and anna.shift.change == "stood_down"
        assert ben.summary.startswith("Your on-call shift for Rota starts Mon 1 Mar 2027 10:30 UTC")
        assert await _pass(state, T0 + timedelta(minutes=7)) == []


async def test_an_override_that_keeps_someone_on_call_past_the_told_end_is_told(
    reminder_database: str, config_dir: Path
) -> None:
    at = T0 + timedelta(days=2)  # clear of the other test's rows: ben's half from 10:30 to 22:30
    async with reminder_process(reminder_database, config_dir) as state:
        (ben,) = await _pass(state, at)
        assert "lasts until Wed 3 Mar 2027 22:30 UTC" in ben.summary
        # ben takes dana's first four hours, from 22:30: one stretch with his half, so no reminder of its own
        await _override(state, "ben", at + timedelta(hours=12, minutes=30), at + timedelta(hours=16, minutes=30), at)
        (ben,) = await _pass(state, at + timedelta(minutes=1))
        assert ben.summary == (
            "You stay on call for Rota until Thu 4 Mar 2027 02:30 UTC, not Wed 3 Mar 2027 22:30 UTC as announced (UTC)."
        )
        assert ben.shift is not None and ben.shift.ends_at == at + timedelta(hours=16, minutes=30)
        assert ben.shift.change == "new_end"
        assert await _pass(state, at + timedelta(minutes=2)) == []

    async with reminder_process(reminder_database, config_dir) as state:  # another process: claimed, not again
        assert await _pass(state, at + timedelta(minutes=3)) == []
