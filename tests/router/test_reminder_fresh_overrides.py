"""A shift-reminder pass sees the overrides as stored, not as its process last read them, on a database of the
module's own with a clock the test sets. Every process reads the API's overrides every
``ROUTER_OVERRIDES_POLL_SECONDS``; a page decided from a copy a few seconds old goes to the right person at the next
one, but a reminder is sent once and cannot be taken back. Before, a replica whose copy predated an override made
on another replica told ben of the shift the override had just taken from him, and anna, who covers it, only at its
next pass."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alertrouter_router import overrides
from alertrouter_router.shift_reminders import send_due_reminders
from alertrouter_router.state import RouterState
from tests.helpers import DatabaseFactory
from tests.router.loop_support import T0, handed_over, migrated_database, reminder_process, set_clock

# T0 is 10:00 UTC: ben's day shift starts at 10:30, so his reminder (an hour ahead) is due at T0
OWNERSHIP = """\
users:
  - id: anna
    name: Anna
    time_zone: UTC
    contact_methods: [{id: anna-mail, type: email, address: anna@example.test}]
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
async def state(reminder_database: str, tmp_path: Path) -> AsyncIterator[RouterState]:
    (tmp_path / "ownership.yaml").write_text(OWNERSHIP, encoding="utf-8")
    async with reminder_process(reminder_database, tmp_path) as process:
        yield process


async def test_an_override_made_on_another_replica_just_before_the_pass_decides_who_is_reminded(
    state: RouterState,
) -> None:
    async with state.pool.acquire() as conn:
        # this process's last read of the overrides (its refresh loop, ten seconds before the pass): none yet
        state.configs.use(await overrides.in_effect(conn, T0 - timedelta(seconds=10)))
        # then another replica's POST /v1/schedules/rota/overrides: anna takes ben's whole day shift
        await conn.execute(
            "INSERT INTO router_schedule_override (id, schedule_id, user_id, starts_at, ends_at, reason, created_by, "
            "created_at) VALUES ($1, 'rota', 'anna', $2, $3, 'ben is ill', 'user:alice', $4)",
            str(uuid.uuid4()),
            T0 + timedelta(minutes=30),
            T0 + timedelta(hours=12, minutes=30),
            T0 - timedelta(seconds=5),
        )
    set_clock(state, T0)
    assert await send_due_reminders(state) == 1
    (told,) = handed_over(state)
    assert (told.user_id, told.shift.override if told.shift else None) == ("anna", True)

    set_clock(state, T0 + timedelta(minutes=1))  # the next pass: nothing more, and never ben
    assert await send_due_reminders(state) == 0
    assert [p.user_id for p in handed_over(state)] == ["anna"]
