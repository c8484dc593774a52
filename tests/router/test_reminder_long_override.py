"""Shift reminders of overrides longer than the reminder horizon (31 days), on a database of the module's own with a
clock the test sets: the ledger's row of such a reminder is the only thing that keeps it from being sent again, as
an override stays due while it runs. Before, the hourly prune deleted the row a month after the horizon's end
(recorded as the shift's end) while the override still ran, and the next pass told anna again, 62 days on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alertrouter_router.shift_reminders import send_due_reminders
from alertrouter_router.state import RouterState
from tests.helpers import DatabaseFactory
from tests.router.loop_support import T0, handed_over, migrated_database, reminder_process, set_clock

# T0 is 2027-03-01 10:00 UTC: anna covers ben's rota from 10:30 for 90 days (parental leave)
OWNERSHIP = """\
users:
  - id: anna
    name: Anna
    time_zone: UTC
    contact_methods: [{id: anna-mail, type: email, address: anna@example.test}]
  - id: ben
    name: Ben
    time_zone: UTC
    shift_reminders: false
    contact_methods: [{id: ben-mail, type: email, address: ben@example.test}]
schedules:
  - id: rota
    name: Rota
    time_zone: UTC
    layers:
      - id: always
        participants: [ben]
        start: "2020-01-06T00:00:00"
        turn: {weeks: 1}
    overrides:
      - id: leave
        user: anna
        start: "2027-03-01T10:30:00Z"
        end: "2027-05-30T10:30:00Z"
"""


@pytest.fixture(scope="module")
def reminder_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
async def state(reminder_database: str, tmp_path: Path) -> AsyncIterator[RouterState]:
    (tmp_path / "ownership.yaml").write_text(OWNERSHIP, encoding="utf-8")
    async with reminder_process(reminder_database, tmp_path) as process:
        yield process


async def test_an_override_longer_than_the_horizon_is_announced_once_while_old_rows_are_pruned(
    state: RouterState,
) -> None:
    set_clock(state, T0)  # half an hour before the override begins: due
    assert await send_due_reminders(state) == 1
    (told,) = handed_over(state)
    assert told.user_id == "anna" and told.summary.startswith("An override puts you on call for Rota from ")
    assert told.shift is not None and told.shift.ends_at < T0 + timedelta(days=33)  # "until at least": the horizon

    later = T0 + timedelta(days=62)  # the override runs until day 90; the horizon's end was a month ago
    for at in (later, later + timedelta(minutes=1), later + timedelta(hours=2)):  # the hour after: pruned again
        set_clock(state, at)
        assert await send_due_reminders(state) == 0
    assert handed_over(state) == [told]
