"""Shift reminders from the on-call calculator, with no database: which are due in a window, across both DST
changes (Europe and the US change on different weekends), overrides made late, joined turns, opt-outs, the
contact-method rule, and the text in the person's own time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from alertrouter_router.ownership.model import Override, OwnershipConfig
from alertrouter_router.ownership.reminders import (
    EndedOverride,
    Reminder,
    _lookback,
    reinstated_reminders,
    reminder_method,
    reminder_text,
    reminders_due,
)
from alertrouter_router.ownership.schedules import MAX_SEARCH
from tests.router.unit.ownership_builders import utc


def _user(user_id: str, zone: str, methods: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": user_id.title(),
        "time_zone": zone,
        "contact_methods": [{"id": f"{user_id}-{kind}", "type": kind, "address": addr} for kind, addr in methods],
        **extra,
    }


def _daily(schedule_id: str, participants: list[str], handoff: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": schedule_id,
        "name": schedule_id.replace("-", " ").title(),
        "time_zone": "Europe/Berlin",
        "layers": [
            {
                "id": "daily",
                "participants": participants,
                "start": f"2026-03-27T{handoff}:00",
                "turn": {"days": 1},
                "handoff_time": handoff,
            }
        ],
        **extra,
    }


USERS = [
    _user("anna", "Europe/Berlin", [("email", "anna@example.test"), ("slack", "U0ANNA")]),
    _user("ben", "America/New_York", [("email", "ben@example.test")], shift_reminder_minutes=30),
    _user("carl", "Europe/Berlin", [("slack", "U0CARL")], shift_reminders=False),
    _user("dana", "Europe/Berlin", [("slack", "U0DANA")], shift_reminder_minutes=0),
    _user("eve", "Europe/Berlin", [("sms", "+15005550006")]),
    _user(
        "finn",
        "Asia/Kolkata",
        [("voice", "+15005550007"), ("sms", "+15005550008")],
        **{"shift_reminder_contact_method": "finn-sms"},
    ),
]
# 27 Mar anna, 28 ben, 29 anna, 30 ben (Europe moves to summer time in the night to 29 Mar; the US did on 8 Mar);
# on 28 Mar an override puts anna on call 12:00-14:00 Berlin in ben's place.
CONFIG = OwnershipConfig.model_validate(
    {
        "users": USERS,
        "schedules": [
            _daily(
                "berlin-daily",
                ["anna", "ben"],
                "09:00",
                overrides=[
                    {
                        "id": "cover",
                        "user": "anna",
                        "start": "2026-03-28T12:00:00+01:00",
                        "end": "2026-03-28T14:00:00+01:00",
                    }
                ],
            ),
            _daily("opted-out", ["carl", "dana"], "10:00"),
            _daily("night", ["finn", "finn", "eve"], "02:30"),
        ],
    }
)


def _due(t0: datetime, t1: datetime) -> list[tuple[str, str, datetime, datetime, bool]]:
    return [(r.user_id, r.schedule_id, r.starts_at, r.remind_at, r.override) for r in reminders_due(CONFIG, t0, t1)]


@pytest.mark.parametrize(
    ("t0", "t1", "expected"),
    [
        # 28 Mar, winter time (UTC+1): ben's 09:00 shift (08:00 UTC), 30 minutes ahead
        (utc(2026, 3, 28, 7, 0), utc(2026, 3, 28, 7, 29), []),
        (
            utc(2026, 3, 28, 7, 29),
            utc(2026, 3, 28, 7, 30),
            [("ben", "berlin-daily", utc(2026, 3, 28, 8), utc(2026, 3, 28, 7, 30), False)],
        ),
        (
            utc(2026, 3, 28, 7, 59),
            utc(2026, 3, 28, 7, 59),
            [("ben", "berlin-daily", utc(2026, 3, 28, 8), utc(2026, 3, 28, 7, 30), False)],
        ),
        (utc(2026, 3, 28, 8, 0), utc(2026, 3, 28, 9, 59), []),  # started: no longer due
        # the override: due from an hour before until it ends, so one made late is still announced
        (
            utc(2026, 3, 28, 10, 0),
            utc(2026, 3, 28, 10, 0),
            [("anna", "berlin-daily", utc(2026, 3, 28, 11), utc(2026, 3, 28, 10), True)],
        ),
        (
            utc(2026, 3, 28, 12, 59),
            utc(2026, 3, 28, 12, 59),
            [
                ("anna", "berlin-daily", utc(2026, 3, 28, 11), utc(2026, 3, 28, 10), True),
                ("ben", "berlin-daily", utc(2026, 3, 28, 13), utc(2026, 3, 28, 12, 30), False),  # back after it
            ],
        ),
        (utc(2026, 3, 28, 13, 0), utc(2026, 3, 28, 13, 0), []),
        # the night to 29 Mar: the 02:30 handoff does not exist in Berlin and falls just after the gap (03:30 CEST,
        # 01:30 UTC); finn's two turns in a row are one shift, reminded once, by the chosen SMS (never the call)
        (
            utc(2026, 3, 27, 0, 0),
            utc(2026, 3, 27, 0, 30),
            [("finn", "night", utc(2026, 3, 27, 1, 30), utc(2026, 3, 27, 0, 30), False)],
        ),
        (utc(2026, 3, 28, 0, 0), utc(2026, 3, 28, 1, 29), []),
        (utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 29), []),  # eve's turn: SMS only and not chosen, no reminder
        # 29 Mar, summer time (UTC+2): anna's 09:00 shift is at 07:00 UTC, an hour earlier in UTC than on 27 Mar
        (utc(2026, 3, 29, 5, 0), utc(2026, 3, 29, 5, 59), []),
        (
            utc(2026, 3, 29, 6, 0),
            utc(2026, 3, 29, 6, 0),
            [("anna", "berlin-daily", utc(2026, 3, 29, 7), utc(2026, 3, 29, 6), False)],
        ),
        # carl opted out, dana's lead is 0: their schedule never reminds anyone
        (utc(2026, 3, 27, 8, 30), utc(2026, 3, 28, 7, 0), []),
    ],
)
def test_reminders_due_in_a_window(
    t0: datetime, t1: datetime, expected: list[tuple[str, str, datetime, datetime, bool]]
) -> None:
    assert _due(t0, t1) == expected


def test_autumn_ambiguous_handoff_is_its_first_occurrence() -> None:
    # finn's two turns from 23 Oct end at 02:30 on 25 Oct, which happens twice in Berlin: the first (CEST, 00:30 UTC)
    (finn,) = reminders_due(CONFIG, utc(2026, 10, 22, 23, 30), utc(2026, 10, 22, 23, 30))
    assert (finn.user_id, finn.starts_at, finn.ends_at) == ("finn", utc(2026, 10, 23, 0, 30), utc(2026, 10, 25, 0, 30))


def _one(t0: datetime, t1: datetime, user: str) -> Reminder:
    return next(r for r in reminders_due(CONFIG, t0, t1) if r.user_id == user)


def test_the_text_names_the_schedule_and_the_times_in_the_persons_zone() -> None:
    users, schedules = CONFIG.users_by_id, CONFIG.schedules_by_id
    ben = _one(utc(2026, 3, 30, 6, 30), utc(2026, 3, 30, 6, 30), "ben")  # Berlin 09:00 CEST = New York 03:00 EDT
    assert reminder_text(ben, schedules["berlin-daily"], users["ben"]) == (
        "Your on-call shift for Berlin Daily starts Mon 30 Mar 2026 03:00 EDT and lasts until "
        "Tue 31 Mar 2026 03:00 EDT (America/New_York)."
    )
    anna = _one(utc(2026, 3, 28, 11, 0), utc(2026, 3, 28, 11, 0), "anna")
    assert reminder_text(anna, schedules["berlin-daily"], users["anna"]) == (
        "An override puts you on call for Berlin Daily from Sat 28 Mar 2026 12:00 CET "
        "until Sat 28 Mar 2026 14:00 CET (Europe/Berlin)."
    )
    finn = _one(utc(2026, 3, 27, 0, 30), utc(2026, 3, 27, 0, 30), "finn")
    assert (finn.starts_at, finn.ends_at) == (utc(2026, 3, 27, 1, 30), utc(2026, 3, 29, 1, 30))
    assert "starts Fri 27 Mar 2026 07:00 IST and lasts until Sun 29 Mar 2026 07:00 IST" in reminder_text(
        finn, schedules["night"], users["finn"]
    )
    assert (
        len({ben.id, anna.id, finn.id}) == 3
        and ben.id == _one(utc(2026, 3, 30, 6, 50), utc(2026, 3, 30, 6, 55), "ben").id
    )  # one id per (user, schedule, shift start), whatever the window


def test_contact_method_rule() -> None:
    users = CONFIG.users_by_id
    picked = {name: reminder_method(users[name]) for name in ("anna", "ben", "eve", "finn")}
    assert {name: m.id if m else None for name, m in picked.items()} == {
        "anna": "anna-slack",  # chat before email, whatever the order listed
        "ben": "ben-email",
        "eve": None,  # SMS only when chosen
        "finn": "finn-sms",  # chosen
    }


def _removed(at: datetime, override: Override | None = None) -> list[Reminder]:
    cover = override or CONFIG.schedules_by_id["berlin-daily"].overrides[0]  # anna 12:00-14:00 CET on 28 Mar
    return reinstated_reminders(CONFIG, [EndedOverride("berlin-daily", cover, at)])


def test_an_override_removed_while_it_runs_puts_the_covered_person_back_and_tells_them_at_once() -> None:
    (ben,) = _removed(utc(2026, 3, 28, 11, 30))  # anna's cover removed half way: ben's day goes on
    assert (ben.user_id, ben.starts_at, ben.remind_at, ben.reinstated) == (
        "ben",
        utc(2026, 3, 28, 11, 30),
        *[
            utc(2026, 3, 28, 11, 30),
            True,
        ],
    )
    assert ben.ends_at == utc(2026, 3, 29, 7)  # the next 09:00 handoff is in summer time: 07:00 UTC
    assert ben.id != _removed(utc(2026, 3, 28, 11, 45))[0].id  # each removal is its own claim
    assert reminder_text(ben, CONFIG.schedules_by_id["berlin-daily"], CONFIG.users_by_id["ben"]) == (
        "An override for Berlin Daily was removed: you are on call again from Sat 28 Mar 2026 07:30 EDT "
        "until Sun 29 Mar 2026 03:00 EDT (America/New_York)."
    )


def test_removing_an_override_tells_nobody_who_was_on_call_anyway() -> None:
    assert _removed(utc(2026, 3, 28, 7, 0)) == []  # before ben's day was announced: its reminder tells it whole
    assert _removed(utc(2026, 3, 28, 13, 0)) == []  # at its end: nothing changes
    own = Override(id="own", user="ben", start=utc(2026, 3, 28, 9, 0), end=utc(2026, 3, 28, 10, 0))
    assert _removed(utc(2026, 3, 28, 9, 30), own) == []  # ben covering his own turn: nobody is back
    carl = Override(id="c", user="carl", start=utc(2026, 3, 28, 9, 0), end=utc(2026, 3, 28, 12, 0))
    ended = utc(2026, 3, 28, 10, 0)
    assert reinstated_reminders(CONFIG, [EndedOverride("opted-out", carl, ended)]) == []  # dana's lead is 0
    assert reinstated_reminders(CONFIG, [EndedOverride("gone", carl, ended)]) == []  # a schedule no longer there


@pytest.mark.parametrize("removed", [utc(2026, 3, 28, 7, 30), utc(2026, 3, 28, 10, 0), utc(2026, 3, 28, 10, 59)])
def test_an_override_removed_before_it_began_tells_whom_it_gives_hours_back_in_a_shift_already_announced(
    removed: datetime,
) -> None:
    """ben's day (from 09:00 CET, 08:00 UTC) was announced at 07:30 UTC with anna's cover in it: "until 12:00".
    Removing the cover before it began (12:00 CET, 11:00 UTC) gave him 12:00-14:00 back, and nobody told him: only
    overrides removed while they ran were looked at, and his day, one shift again, had been announced."""
    (ben,) = _removed(removed)
    assert (ben.user_id, ben.starts_at, ben.ends_at, ben.remind_at, ben.reinstated) == (
        "ben",
        utc(2026, 3, 28, 11),
        utc(2026, 3, 29, 7),
        removed,
        True,
    )
    assert reminder_text(ben, CONFIG.schedules_by_id["berlin-daily"], CONFIG.users_by_id["ben"]) == (
        "An override for Berlin Daily was removed: you are on call again from Sat 28 Mar 2026 07:00 EDT "
        "until Sun 29 Mar 2026 03:00 EDT (America/New_York)."
    )


def test_an_override_removed_before_it_began_leaves_a_shift_it_started_to_that_shifts_own_reminder() -> None:
    """Removed ahead of a shift it began, the shift begins when it would have (a shift of its own, reminded
    before it starts): the removal tells nobody, and the reminder is not sent early."""
    cover = Override(id="early", user="anna", start=utc(2026, 3, 28, 8), end=utc(2026, 3, 28, 9))  # ben's first hour
    config = OwnershipConfig.model_validate(
        {
            "users": USERS,
            "schedules": [_daily("berlin-daily", ["anna", "ben"], "09:00", overrides=[cover.model_dump(mode="json")])],
        }
    )
    assert reinstated_reminders(config, [EndedOverride("berlin-daily", cover, utc(2026, 3, 28, 6))]) == []
    without = config.model_copy(update={"schedules": [config.schedules[0].model_copy(update={"overrides": []})]})
    (ben,) = [r for r in reminders_due(without, utc(2026, 3, 28, 7, 30), utc(2026, 3, 28, 7, 30)) if r.user_id == "ben"]
    assert ben.starts_at == utc(2026, 3, 28, 8)


def test_removing_an_override_tells_someone_on_call_for_many_turns_in_a_row() -> None:
    """ben is the only participant, on call day after day: removing anna's cover half way did not tell him, as his
    continuous stretch began before the lookback and stretches cut by it were dropped."""
    cover = Override(id="cover", user="anna", start=utc(2026, 4, 10, 11), end=utc(2026, 4, 10, 13))
    solo = _daily("solo", ["ben"], "09:00", overrides=[cover.model_dump(mode="json")])
    config = OwnershipConfig.model_validate({"users": USERS, "schedules": [solo]})
    (ben,) = reinstated_reminders(config, [EndedOverride("solo", cover, utc(2026, 4, 10, 12))])
    assert (ben.user_id, ben.starts_at, ben.remind_at, ben.reinstated) == (
        "ben",
        utc(2026, 4, 10, 12),
        utc(2026, 4, 10, 12),
        True,
    )


def test_an_override_for_years_is_still_announced_and_looks_back_no_further_than_the_calculator() -> None:
    """An override to 2199 made every reminder pass build every hourly turn since the layer began (4.5 s a pass,
    every 30 s, on the loop that routes and pages); the pass looks back at most what a lookup does."""
    hourly = _daily("hourly", ["anna", "carl"], "00:00") | {
        "layers": [{"id": "hourly", "participants": ["anna", "carl"], "start": "2010-01-01T00:00:00", "turn": "1h"}],
        "overrides": [
            {"id": "ben-for-years", "user": "ben", "start": "2026-05-01T00:00:00Z", "end": "2199-12-31T00:00:00Z"}
        ],
    }
    config = OwnershipConfig.model_validate({"users": USERS, "schedules": [hourly]})
    assert _lookback(config.schedules[0]) == MAX_SEARCH
    at = utc(2026, 4, 30, 23, 45)  # ben's lead is 30 minutes
    (told,) = [r for r in reminders_due(config, at, at) if r.user_id == "ben"]
    assert (told.starts_at, told.override) == (utc(2026, 5, 1), True)
