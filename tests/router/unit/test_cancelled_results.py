"""A page the notifier cancelled (its incident was acknowledged or resolved before it could be sent) was neither
reached nor failed for good: it never makes a level count as not reached (no escalation), and the timeline says
it was not sent and why, without marking it a failure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alertrouter_router.console.timeline_words import in_words
from alertrouter_router.unreached import PageState, incidents_with_failures, unreached_levels
from alertrouter_shared.events import ContactMethodType, DeliveryResult, DeliveryStatus

LEVEL = ["i1:0:1:alice:alice-slack", "i1:0:1:alice:alice-sms"]
REASON = "not sent: the incident was resolved before this page could be delivered"


@pytest.mark.parametrize(
    ("status", "not_reached"),
    [
        (DeliveryStatus.FAILED, True),
        (DeliveryStatus.UNDELIVERED, True),
        (DeliveryStatus.EXPIRED, True),
        (DeliveryStatus.CANCELLED, False),
        (DeliveryStatus.SENT, False),
        (DeliveryStatus.THROTTLED, False),
        (DeliveryStatus.RETRYING, False),
    ],
)
def test_only_failures_for_good_make_a_level_not_reached(status: DeliveryStatus, not_reached: bool) -> None:
    """The level's other page failed for good; whether the level reached nobody depends on this one's status."""
    pages = [PageState(LEVEL[0], status.value, "slack", None), PageState(LEVEL[1], "undelivered", "sms", None)]
    assert bool(unreached_levels(pages)) is not_reached
    result = DeliveryResult(
        delivery_id="d1",
        page_id=LEVEL[0],
        incident_id="i1",
        channel=ContactMethodType.SLACK,
        destination_masked="C0123",
        status=status,
        at=datetime(2026, 12, 8, tzinfo=UTC),
    )
    assert incidents_with_failures([result]) == (["i1"] if not_reached else [])


def test_a_level_whose_every_page_was_cancelled_is_not_escalated() -> None:
    assert unreached_levels([PageState(p, "cancelled", "slack", REASON) for p in LEVEL]) == []


def test_a_cancelled_delivery_in_words_is_not_sent_and_not_a_failure() -> None:
    (line,) = in_words(
        [
            {
                "at": "2026-12-08T00:00:00+00:00",
                "kind": "delivery",
                "status": "cancelled",
                "channel": "slack",
                "destination_masked": "C0123",
                "attempt": 1,
                "error": REASON,
                "user_id": "alice",
                "failed_for_good": False,
            }
        ],
        "UTC",
    )
    assert line.text == (
        "slack to alice (C0123): cancelled, not sent: the incident was resolved before this page could be delivered."
    )
    assert not line.failed


def test_the_router_decodes_a_cancelled_result() -> None:
    """The status is part of the contract: the router decodes it (a router without it dead-letters such results,
    which is why routers are upgraded before notifiers for it)."""
    raw = (
        '{"schema_version": 1, "delivery_id": "d1", "page_id": "p1", "incident_id": "i1", "channel": "slack",'
        ' "destination_masked": "C0123", "status": "cancelled", "at": "2026-12-08T00:00:00Z"}'
    )
    assert DeliveryResult.model_validate_json(raw).status is DeliveryStatus.CANCELLED
