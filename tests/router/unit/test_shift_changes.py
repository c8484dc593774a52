"""Changes to a shift already announced, with no database: the ledger's rows (what each person was told) against
the on-call calculator now. Before, nothing told ben that an override took the day he had been told of, nor anna
that the override she had been told of was removed, nor ben that an override kept him on call past the end he had
been told ("until 17:00", on call until 20:00)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_router.ownership.reminders import Reminder, reminder_method
from alertrouter_router.ownership.shift_changes import ShiftChange, Told, change_text, shift_changes
from tests.router.unit.ownership_builders import utc


def _user(user_id: str, zone: str, **extra: Any) -> dict[str, Any]:
    methods = [{"id": f"{user_id}-slack", "type": "slack", "address": f"U0{user_id.upper()}"}]
    return {"id": user_id, "name": user_id.title(), "time_zone": zone, "contact_methods": methods, **extra}


USERS = [
    _user("anna", "Europe/Berlin"),
    _user("ben", "America/New_York"),
    _user("carl", "UTC"),
    _user("dana", "UTC", shift_reminders=False),
]


def _config(
    *overrides: tuple[str, datetime, datetime], participants: tuple[str, ...] = ("ben", "anna", "carl")
) -> OwnershipConfig:
    """Rota (UTC), eight-hour turns from 2 Mar 2026: ben 09-17, anna 17-01, carl 01-09; ``overrides``: (user, from,
    until)."""
    layer = {"id": "eights", "participants": list(participants), "start": "2026-03-02T09:00:00", "turn": "8h"}
    listed = [
        {"id": f"o{i}", "user": u, "start": s.isoformat(), "end": e.isoformat()}
        for i, (u, s, e) in enumerate(overrides)
    ]
    schedule = {"id": "rota", "name": "Rota", "time_zone": "UTC", "layers": [layer], "overrides": listed}
    return OwnershipConfig.model_validate({"users": USERS, "schedules": [schedule]})


def h(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return utc(2026, 3, day + hour // 24, hour % 24, minute)


BEN_DAY = Told("ben", "rota", h(9), h(17), False)  # announced at 08:00 "from 09:00 until 17:00"
ANNA_COVER = Told("anna", "rota", h(12), h(14), True)  # announced "an override puts you on call 12:00-14:00"
Row = tuple[str, datetime, datetime | None, tuple[str, ...], bool]  # user, from, new end (None: off), others, removed


def _changes(config: OwnershipConfig, told: list[Told], now: datetime, due: list[Reminder] | None = None) -> list[Row]:
    return [(c.user_id, c.from_at, c.new_end, c.others, c.removed) for c in shift_changes(config, told, due or [], now)]


@pytest.mark.parametrize(
    ("overrides", "told", "now", "expected"),
    [
        ([], [BEN_DAY], h(8, 30), []),  # nothing changed
        # stand-downs: anna covers all of ben's day, before it begins or the rest of it once begun
        ([("anna", h(9), h(17))], [BEN_DAY], h(8, 30), [("ben", h(9), None, ("Anna",), False)]),
        ([("anna", h(12), h(17))], [BEN_DAY], h(12), [("ben", h(12), None, ("Anna",), False)]),
        (
            [("anna", h(9), h(13)), ("carl", h(13), h(17))],
            [BEN_DAY],
            h(8),
            [("ben", h(9), None, ("Anna", "Carl"), False)],
        ),
        # the override anna was told of is removed before it began (ben has it again), or replaced by carl's
        ([], [ANNA_COVER], h(11), [("anna", h(12), None, ("Ben",), True)]),
        ([("carl", h(12), h(14))], [ANNA_COVER], h(11), [("anna", h(12), None, ("Carl",), True)]),
        ([("anna", h(12), h(14))], [ANNA_COVER], h(11), []),  # still there
        # extensions: an override that hands ben the next slot, or part of it; also one made just after his end
        ([("ben", h(17), h(25))], [BEN_DAY], h(10), [("ben", h(10), h(25), (), False)]),
        ([("ben", h(17), h(20))], [BEN_DAY], h(8), [("ben", h(9), h(20), (), False)]),
        ([("ben", h(17), h(20))], [BEN_DAY], h(17, 10), [("ben", h(17), h(20), (), False)]),
        ([], [BEN_DAY], h(17, 10), []),  # over: nothing to stand down or cut
        # partial covers: told the new end at once (the hours after a cover in the middle have a reminder of their
        # own); a cover at the start changes no end (the later start has its own reminder)
        ([("anna", h(13), h(17))], [BEN_DAY], h(8), [("ben", h(9), h(13), ("Anna",), False)]),
        ([("anna", h(11), h(13))], [BEN_DAY], h(8), [("ben", h(9), h(11), ("Anna",), False)]),
        ([("anna", h(9), h(11))], [BEN_DAY], h(8), []),
        # told already: a stood-down row, and hours the pass's own reminders tell (ben's day given back at 12:00)
        ([("anna", h(9), h(17))], [Told("ben", "rota", h(9), h(17), False, True)], h(8), []),
        ([], [Told("ben", "rota", h(9), h(12), False)], h(11), [("ben", h(11), h(17), (), False)]),
    ],
)
def test_changes_to_a_told_shift(
    overrides: list[tuple[str, datetime, datetime]], told: list[Told], now: datetime, expected: list[Row]
) -> None:
    assert _changes(_config(*overrides), told, now) == expected


def test_a_change_the_pass_s_own_reminder_tells_is_not_told_twice() -> None:
    """ben was told "until 12:00" with anna's cover after it; the cover removed, the pass's reinstated reminder tells
    him he is on call from 12:00 until 17:00: not also an extension."""
    config = _config()
    method = reminder_method(config.users_by_id["ben"])
    assert method is not None
    back = Reminder("ben", "rota", h(12), h(17), h(11), False, False, method, True)
    assert _changes(config, [Told("ben", "rota", h(9), h(12), False)], h(11), [back]) == []


def test_a_shift_that_now_runs_past_the_horizon_is_not_told_as_extended_every_pass() -> None:
    solo = _config(participants=("ben",))  # ben on call week after week: no known end
    assert _changes(solo, [BEN_DAY], h(10)) == []
    assert _changes(solo, [Told("ben", "rota", h(9), h(17), False)], h(16)) == []


def test_no_notice_for_someone_who_takes_no_reminders() -> None:
    dana = Told("dana", "rota", h(9), h(17), False)
    assert _changes(_config(("anna", h(9), h(17)), participants=("dana", "anna", "carl")), [dana], h(8)) == []


def _one(config: OwnershipConfig, told: Told, now: datetime) -> str:
    (change,) = shift_changes(config, [told], [], now)
    return change_text(change, config.schedules_by_id["rota"], config.users_by_id[told.user_id])


def test_the_notices_text_in_the_persons_zone() -> None:
    # ben is in New York (EST, UTC-5 on 2 Mar), anna in Berlin (CET, UTC+1)
    assert _one(_config(("anna", h(9), h(17))), BEN_DAY, h(8)) == (
        "You are no longer on call for Rota from Mon 2 Mar 2026 04:00 EST until Mon 2 Mar 2026 12:00 EST: "
        "Anna covers it (America/New_York)."
    )
    assert _one(_config(), ANNA_COVER, h(11)) == (
        "An override for Rota was removed: you are no longer on call from Mon 2 Mar 2026 13:00 CET "
        "until Mon 2 Mar 2026 15:00 CET (Europe/Berlin)."
    )
    assert _one(_config(("ben", h(17), h(20))), BEN_DAY, h(8)) == (
        "You stay on call for Rota until Mon 2 Mar 2026 15:00 EST, not Mon 2 Mar 2026 12:00 EST as announced "
        "(America/New_York)."
    )
    assert _one(_config(("anna", h(13), h(17))), BEN_DAY, h(8)) == (
        "Your on-call shift for Rota now ends Mon 2 Mar 2026 08:00 EST, not Mon 2 Mar 2026 12:00 EST: Anna covers "
        "from then (America/New_York)."
    )


def test_a_change_is_about_the_told_shift_s_last_row() -> None:
    rows = [Told("ben", "rota", h(12), h(17), False), Told("ben", "rota", h(9), h(12), False)]
    (change,) = shift_changes(_config(("ben", h(17), h(20))), rows, [], h(10))
    assert isinstance(change, ShiftChange) and (change.starts_at, change.ends_at, change.rows) == (
        h(9),
        h(17),
        (h(9), h(12)),
    )
