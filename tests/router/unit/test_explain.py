"""The decision paragraph (``explain_text``): every time in it reads the same way, to the second in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from alertrouter_router.decisions.explain import explain_text

CREATED = datetime(2026, 12, 6, 2, 46, 47, 173756, tzinfo=UTC)


def _row(kind: str, explanation: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "explanation": explanation,
        "dedup_key": "am:prod:abc",
        "incident_id": "inc-1",
        "created_at": CREATED,
        "outcome": "paged",
        "reason": "paged level 1 (round 1) of policy payments-default: alice",
        "config_version": "9b78",
        "id": "dec-1",
    }


PAGED = {
    "event": {"event_id": "ev-1", "action": "trigger", "source": "alertmanager", "integration": "am", "summary": "x"},
    "route": {"service": "checkout", "team": "payments", "policy": "payments-default", "reason": "rule r matched"},
    "clamped": {"occurred_at": "2099-01-01T00:00:00+00:00", "why": "in the future", "to": "2026-12-06T02:46:47+00:00"},
    "targets": [
        {
            "user": "alice",
            "name": "Alice Example",
            "selected_by": {"kind": "schedule", "id": "payments-primary", "layer": "around-the-clock"},
            "notifications": [
                {"type": "webhook", "send_at": "2026-12-06T02:46:47.173756+00:00"},
                {"type": "sms", "send_at": "2026-12-06T03:48:47.173756+01:00"},
            ],
        }
    ],
    "next_escalation": {"level": 2, "round": 1, "at": "2026-12-06T03:16:47.173756+00:00"},
}


@pytest.mark.parametrize(
    ("kind", "explanation", "times"),
    [
        (
            "event",
            PAGED,
            [
                "2026-12-06 02:46:47 UTC",  # arrived
                "2099-01-01 00:00:00 UTC",  # clamped from
                "2026-12-06 02:46:47 UTC",  # clamped to
                "2026-12-06 02:46:47 UTC",  # webhook
                "2026-12-06 02:48:47 UTC",  # sms: an offset other than UTC is converted
                "2026-12-06 03:16:47 UTC",  # next level
            ],
        ),
        (
            "recheck",
            {"alert": {"summary": "x", "firing_since": "2026-12-06T01:00:00.5+00:00", "suppressed_by": "maintenance"}},
            ["2026-12-06 01:00:00 UTC", "2026-12-06 02:46:47 UTC"],
        ),
        (
            "step",
            {"step": {"round": 1, "level": 2, "due_at": "2026-12-06T03:16:47.9+00:00"}},
            ["2026-12-06 03:16:47 UTC"],
        ),
        ("manual", {}, ["2026-12-06 02:46:47 UTC"]),
        ("escalation", {"not_reached": ["alice not reached: sms undelivered"]}, ["2026-12-06 02:46:47 UTC"]),
        ("escalation", {"retrigger": True}, ["2026-12-06 02:46:47 UTC"]),
    ],
)
def test_times_read_to_the_second_in_utc(kind: str, explanation: dict[str, Any], times: list[str]) -> None:
    text = explain_text(_row(kind, explanation))
    assert re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text) == times
    assert not re.search(r"\d{4}-\d\d-\d\dT\d", text), text  # no raw ISO 8601 left


def test_a_time_that_is_not_one_is_shown_as_it_is() -> None:
    text = explain_text(_row("step", {"step": {"round": 1, "level": 2, "due_at": None}}))
    assert "was due at None." in text
    text = explain_text(_row("step", {"step": {"round": 1, "level": 2, "due_at": "soon"}}))
    assert "was due at soon." in text
    naive = _row("manual", {})
    naive["created_at"] = CREATED.replace(tzinfo=None)
    assert "at 2026-12-06 02:46:47 UTC." in explain_text(naive)


def test_an_incident_nobody_was_reachable_for_says_when_it_tries_again() -> None:
    retry = {"next_escalation": {"level": 1, "round": 3, "at": "2026-12-06T02:51:47+00:00"}, "skipped_levels": []}
    row = _row("step", retry) | {"outcome": "nobody_on_call", "reason": "no level reaches anyone right now"}
    assert "Unless acknowledged, level 1 (round 3) is tried again at 2026-12-06 02:51:47 UTC." in explain_text(row)
    assert "is paged at" in explain_text(_row("event", PAGED))


def test_a_level_not_reached_and_a_snooze_run_out_say_what_happened() -> None:
    """Neither has a step: their paragraph read "Escalation step round None level None … was due at None"."""
    not_reached = explain_text(_row("escalation", {"not_reached": ["alice not reached: sms undelivered"]}))
    assert not_reached.startswith("Every page of the current level of incident inc-1 had failed for good at 2026")
    retrigger = explain_text(_row("escalation", {"retrigger": True}))
    assert retrigger.startswith("The snooze or acknowledgement timeout of incident inc-1 ran out at 2026")
    assert "None" not in not_reached + retrigger
