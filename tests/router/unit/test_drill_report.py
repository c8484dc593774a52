"""The report of a paging drill (pure): its times are measured from the drill's start by clocks of several pods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alertrouter_router.drills import DrillRun
from alertrouter_router.drills.drill_report import build
from alertrouter_shared.events import ContactMethod, ContactMethodType, DeliveryResult, DeliveryStatus
from tests.router.unit.ownership_builders import page_to

STARTED = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
SKEW = timedelta(milliseconds=400)  # the pod that published and acknowledged runs this much behind the API's


RUN = DrillRun("run-1", "checkout", False, "alice", "", STARTED, dedup_key="drill:checkout:run-1")
CONTACT = ContactMethod(id="alice-hook", type=ContactMethodType.WEBHOOK, address="http://hooks/alice")


def test_times_stamped_by_a_pod_whose_clock_is_behind_are_never_below_zero() -> None:
    run = RUN
    page = page_to(
        "alice", CONTACT, STARTED - SKEW, STARTED - SKEW, dedup_key="drill:checkout:run-1", service_id="checkout"
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


def test_a_page_reached_before_its_publication_was_marked_was_out_when_it_was_reached() -> None:
    """The router marks a page published after Kafka acknowledged it; the notifier can deliver it meanwhile."""
    created = STARTED + timedelta(milliseconds=100)
    page = page_to("alice", CONTACT, created, created, dedup_key=RUN.dedup_key, service_id="checkout")
    reached = DeliveryResult(
        delivery_id="dl-1",
        page_id=page.page_id,
        incident_id=page.incident_id,
        channel=ContactMethodType.WEBHOOK,
        destination_masked="http://hooks/…",
        status=DeliveryStatus.SENT,
        at=STARTED + timedelta(milliseconds=311),
    )
    marked_late = build(RUN, None, [], [(page, STARTED + timedelta(milliseconds=312))], [reached])
    assert (marked_late["time_to_first_page_seconds"], marked_late["time_to_first_reach_seconds"]) == (0.311, 0.311)
    marked_at = (STARTED + timedelta(milliseconds=312)).isoformat()
    assert marked_late["levels"][0]["contacts"][0]["published_at"] == marked_at
    marked_first = build(RUN, None, [], [(page, STARTED + timedelta(milliseconds=200))], [reached])
    assert marked_first["time_to_first_page_seconds"] == 0.2
    unmarked = build(RUN, None, [], [(page, None)], [])
    assert unmarked["time_to_first_page_seconds"] is None


def test_a_page_a_person_sent_is_reported_as_a_responder_s() -> None:
    """A reassignment's or added responder's page id names the action, not a round: the report raised ValueError
    (GET /v1/drills/{id} answered 500) once anyone reassigned the drill or added a responder."""
    level_one = page_to("alice", CONTACT, STARTED, STARTED, dedup_key=RUN.dedup_key, service_id="checkout")
    dave = ContactMethod(id="dave-hook", type=ContactMethodType.WEBHOOK, address="http://hooks/dave")
    added = page_to("dave", dave, STARTED, STARTED, page_id="i1:add_responder:d2:dave:dave-hook")
    bounced = DeliveryResult(
        delivery_id="dl-2",
        page_id=added.page_id,
        incident_id="i1",
        channel=ContactMethodType.WEBHOOK,
        destination_masked="http://hooks/…",
        status=DeliveryStatus.FAILED,
        error="HTTP 410",
        failed_for_good=True,
        failure_reason="webhook failed",
        at=STARTED + timedelta(seconds=1),
    )
    report = build(RUN, None, [], [(level_one, STARTED), (added, STARTED)], [bounced])
    assert [(lv["round"], lv["level"], [c["user"] for c in lv["contacts"]]) for lv in report["levels"]] == [
        (2, 1, ["alice"])
    ]
    assert [c["user"] for c in report["responders"]] == ["dave"]
    assert report["failures"] == ["responder: dave not reached on webhook: webhook failed (HTTP 410)"]
