"""The incident timeline in plain words (pure): decisions, pages by their deterministic ids, deliveries, changes."""

from __future__ import annotations

from typing import Any

from alertrouter_router.console.timeline_words import in_words

AT = "2026-12-04T20:00:00+00:00"


def test_each_kind_of_entry_in_words() -> None:
    lines = in_words(
        [
            {
                "at": AT,
                "kind": "decision",
                "outcome": "acknowledged",
                "decision_id": "d1",
                "reason": "acknowledged by bob",
            },
            {"at": AT, "kind": "page", "page_id": "inc:0:2:alice:alice-sms", "send_at": AT, "published_at": None},
            {"at": AT, "kind": "page", "page_id": "inc:resolved:0:alice:alice-hook", "send_at": AT, "published_at": AT},
            {"at": AT, "kind": "page", "page_id": "inc:reassign:abcdef123456:carol:carol-hook", "send_at": AT},
            {
                "at": AT,
                "kind": "delivery",
                "status": "failed",
                "channel": "sms",
                "destination_masked": "+1500•••0006",
                "attempt": 3,
                "provider": "twilio",
                "error": "30003 unreachable",
                "user_id": "alice",
                "failed_for_good": True,
            },
            {"at": AT, "kind": "change", "summary": "deployed v2.3", "source": "ci", "minutes_from_opening": -12},
        ],
        "Europe/Berlin",
    )
    assert [(line.title, line.text) for line in lines] == [
        ("Acknowledged", "acknowledged by bob."),
        ("Page", "to alice via alice-sms (level 2, round 1), due 21:00 CET; not handed over yet."),
        ("Status update", "to alice via alice-hook: resolved, due 21:00 CET; handed to the notifier 21:00 CET."),
        ("Page", "to carol via carol-hook (reassign), due 21:00 CET; not handed over yet."),
        (
            "Delivery",
            "sms to alice (+1500•••0006): failed (attempt 3, twilio): 30003 unreachable — will not reach them for "
            "this page.",
        ),
        ("Change", "deployed v2.3 from ci (12 min before the incident opened)."),
    ]
    assert lines[0].decision_id == "d1" and lines[4].failed and not lines[1].failed


def test_instants_in_a_decision_s_reason_are_in_the_person_s_zone() -> None:
    """The reason is stored with UTC ISO instants; beside every other time of the page in the person's zone it read
    "paged again at 2026-12-07T03:15:00+00:00" at 22:10 in New York."""
    entry = {
        "at": AT,
        "kind": "decision",
        "outcome": "acknowledged",
        "reason": "snoozed by bob for 30 min: paged again at 2026-12-07T03:15:00+00:00 unless resolved",
    }
    [line] = in_words([entry], "America/New_York")
    assert line.text == "snoozed by bob for 30 min: paged again at Sun 6 Dec 22:15 EST unless resolved."
    [utc] = in_words([{**entry, "reason": "until 2026-12-07T03:15:00.250Z, then 2026-13-99T99:99:00+00:00"}], "UTC")
    assert utc.text == "until Mon 7 Dec 03:15 UTC, then 2026-13-99T99:99:00+00:00."  # not an instant: as it was


def test_an_escalation_notice_is_a_status_update_with_its_level() -> None:
    """Those paged before are told of an escalation by a notice whose id has six parts
    (``<incident>:escalated:<round>:<level>:<user>:<method>``): the timeline showed it as a "Page" with its raw id."""
    entry = {"at": AT, "kind": "page", "page_id": "inc:escalated:0:2:alice:alice-hook", "send_at": AT}
    [line] = in_words([{**entry, "published_at": AT}], "Europe/Berlin")
    assert (line.title, line.text) == (
        "Status update",
        "to alice via alice-hook: escalated to level 2, due 21:00 CET; handed to the notifier 21:00 CET.",
    )


def test_a_page_shows_the_round_its_decision_says() -> None:
    """Page ids number rounds on across escalation cycles (an escalate-now to a level, a snooze run out): the
    decision said "paged level 1 (round 1)" and the timeline's line for its page "(level 1, round 2)"."""
    timeline: list[dict[str, Any]] = [
        {"at": AT, "kind": "decision", "outcome": "paged", "decision_id": "d2", "reason": "…", "round": 1},
        {"at": AT, "kind": "page", "page_id": "inc:1:1:alice:alice-hook", "decision_id": "d2", "send_at": AT},
        {"at": AT, "kind": "page", "page_id": "inc:1:1:bob:bob-hook", "decision_id": "gone", "send_at": AT},
    ]
    _, page, unknown = in_words(timeline, "UTC")
    assert page.text == "to alice via alice-hook (level 1, round 1), due 20:00 UTC; not handed over yet."
    assert "(level 1, round 2)" in unknown.text  # its decision not in the timeline: the id's own round


def test_a_change_within_a_minute_of_the_opening_is_neither_before_nor_after() -> None:
    """``minutes_from_opening`` is rounded: a deploy received 6 s after the incident opened (0) read "0 min before the
    incident opened"."""
    entry = {"at": AT, "kind": "change", "summary": "deployed v2.4", "source": "ci", "minutes_from_opening": 0}
    [line] = in_words([entry], "UTC")
    assert line.text == "deployed v2.4 from ci (within a minute of the incident opening)."
    [later] = in_words([{**entry, "minutes_from_opening": 1}], "UTC")
    assert later.text == "deployed v2.4 from ci (1 min after the incident opened)."


def test_a_grouped_alert_is_not_said_to_be_grouped_twice() -> None:
    """The title "Grouped into this incident" stood before its reason "grouped into incident …": the page read
    "Grouped into this incident grouped into incident inc-1"."""
    entry = {"at": AT, "kind": "decision", "outcome": "grouped", "decision_id": "d2"}
    [line] = in_words([{**entry, "reason": "grouped into incident inc-1 (2 alerts; group g)"}], "UTC")
    assert f"{line.title} {line.text}" == "Another alert grouped into incident inc-1 (2 alerts; group g)."
