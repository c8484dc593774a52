"""The report of a paging drill (pure): its times are measured from the drill's start by clocks of several pods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alertrouter_router.drills import DrillRun
from alertrouter_router.drills.drill_report import build
from alertrouter_shared.events import ContactMethod, ContactMethodType
from tests.router.unit.ownership_builders import page_to

STARTED = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
SKEW = timedelta(milliseconds=400)  # the pod that published and acknowledged runs this much behind the API's


def test_times_stamped_by_a_pod_whose_clock_is_behind_are_never_below_zero() -> None:
    run = DrillRun("run-1", "checkout", False, "alice", "", STARTED, dedup_key="drill:checkout:run-1")
    contact = ContactMethod(id="alice-hook", type=ContactMethodType.WEBHOOK, address="http://hooks/alice")
    page = page_to(
        "alice", contact, STARTED - SKEW, STARTED - SKEW, dedup_key="drill:checkout:run-1", service_id="checkout"
    )
    incident = {
        "id": "inc-1",
        "status": "acknowledged",
        "acknowledged_at": STARTED - SKEW,
        "acknowledged_by": "alice",
        "resolved_at": None,
        "resolved_by": None,
    }
    report = build(run, incident, [], [(page, STARTED - SKEW)], [])
    assert report["time_to_first_page_seconds"] == 0.0
    assert report["time_to_acknowledge_seconds"] == 0.0
    later = build(run, {**incident, "acknowledged_at": STARTED + timedelta(seconds=42.5)}, [], [], [])
    assert later["time_to_acknowledge_seconds"] == 42.5
