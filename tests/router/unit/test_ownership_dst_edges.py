"""DST edges of the on-call calculator the table tests leave out: where a layer's ``start`` itself is written in a
repeated (fall-back) hour, and what its default handoff does on later DST nights."""

from __future__ import annotations

import pytest

from alertrouter_router.ownership.schedules import on_call_at, shifts_between
from tests.router.unit.ownership_builders import berlin, layer, schedule, utc


@pytest.mark.parametrize("offset", ["+02:00", "+01:00"])
def test_default_handoff_in_the_fall_back_hour_is_its_first_occurrence_whichever_occurrence_start_names(
    offset: str,
) -> None:
    # The layer starts at 02:30 of 2025-10-26 (either occurrence); a year later the daily 02:30 handoff happens
    # at 02:30 CEST, as docs/configuration.md says for a repeated wall time, not at 02:30 CET an hour later.
    rotation = schedule("Europe/Berlin", [layer(participants=["a", "b"], start=f"2025-10-26T02:30:00{offset}")])
    answer = on_call_at(rotation, {}, berlin(2026, 10, 25, 12, 0))
    assert answer.since == utc(2026, 10, 25, 0, 30)


def test_a_start_in_the_second_occurrence_of_the_repeated_hour_begins_then() -> None:
    rotation = schedule("Europe/Berlin", [layer(participants=["a", "b"], start="2025-10-26T02:30:00+01:00")])
    first = shifts_between(rotation, utc(2025, 10, 25), utc(2025, 10, 28))[0]
    assert (first.user_id, first.start, first.end) == ("a", utc(2025, 10, 26, 1, 30), utc(2025, 10, 27, 1, 30))
