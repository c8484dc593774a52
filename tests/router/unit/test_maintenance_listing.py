"""Which configured maintenance windows are over: the API lists only windows not over unless asked for ended ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from alertrouter_router.ownership.maintenance import is_over
from alertrouter_router.ownership.model import MaintenanceWindow
from tests.router.unit.ownership_builders import utc

ONCE = {"once": {"start": "2026-12-05T06:00:00Z", "end": "2026-12-05T08:00:00Z"}}
WEEKLY = {
    "weekly": {
        "time_zone": "Europe/Berlin",
        "start_day": "sunday",
        "start_time": "02:00",
        "end_day": "sunday",
        "end_time": "04:00",
    }
}


@pytest.mark.parametrize(
    ("window", "at", "over"),
    [
        (ONCE, utc(2026, 12, 5, 5), False),  # not begun
        (ONCE, utc(2026, 12, 5, 7), False),  # going on
        (ONCE, utc(2026, 12, 5, 8), True),  # its end is exclusive: over at that instant
        (ONCE, utc(2027, 1, 1, 0), True),
        (WEEKLY, utc(2026, 12, 6, 3), False),  # going on
        (WEEKLY, utc(2030, 1, 1, 0), False),  # comes round again every week
    ],
)
def test_a_configured_window_is_over_once_a_one_off_one_has_ended(
    window: dict[str, Any], at: datetime, over: bool
) -> None:
    assert is_over(MaintenanceWindow.model_validate(window), at) is over
