"""The "On call now" page's handoffs and shifts, computed without a browser from the console's configuration
(``tests/fixtures/console/ownership.yaml``): payments-primary is alice alone, week after week; payments-secondary
is bob and carol by day, with carol on weekend days from a second layer."""

from __future__ import annotations

from datetime import UTC, datetime

from alertrouter_router.console.oncall_view import MY_SHIFTS_AHEAD, my_shifts, next_handoffs
from alertrouter_router.ownership.loader import load_config
from tests.console.conftest import CONFIG

SUNDAY_NIGHT = datetime(2026, 12, 6, 2, 49, tzinfo=UTC)  # 03:49 in Berlin; carol on call by the daily layer


def test_a_handoff_is_a_change_of_person() -> None:
    config = load_config(CONFIG, secrets=False)
    handoffs = next_handoffs(config, ["payments-primary", "payments-secondary"], SUNDAY_NIGHT)
    assert [(h.at, h.user_id, h.schedule_id) for h in handoffs] == [
        # not carol at 07:00 UTC (her weekend layer takes over from her daily turn: she stays on call),
        # and no payments-primary entry at all (alice's next turn follows her own)
        (datetime(2026, 12, 6, 19, 0, tzinfo=UTC), "bob", "payments-secondary"),
        (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), "carol", "payments-secondary"),
        (datetime(2026, 12, 8, 8, 0, tzinfo=UTC), "bob", "payments-secondary"),
    ]


def test_my_shifts_are_cut_to_the_two_weeks_and_one_under_way_starts_now() -> None:
    config = load_config(CONFIG, secrets=False)
    (alice,) = my_shifts(config, "alice", SUNDAY_NIGHT)
    assert (alice.schedule_id, alice.at) == ("payments-primary", SUNDAY_NIGHT)
    assert alice.until == SUNDAY_NIGHT + MY_SHIFTS_AHEAD
