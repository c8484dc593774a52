"""The Why page's "Person paged" filter (pure): the decisions that paged the person, not every one naming them."""

from __future__ import annotations

from typing import Any

from alertrouter_router.console.why_page import _paged


def _target(user: str, *methods: str) -> dict[str, Any]:
    notifications = [{"type": m, "send_at": "2026-12-04T20:00:00+00:00"} for m in methods]
    return {"user": user, "selected_by": {"kind": "team", "id": "payments"}, "notifications": notifications}


def test_a_target_without_a_notification_was_not_paged() -> None:
    """A team level pages its members who have a notification rule; dave, who has none, was listed among the
    decisions that paged him (and so was a responder added who could not be reached: nobody_on_call)."""
    level = {"explanation": {"targets": [_target("alice", "webhook", "sms"), _target("dave")]}}
    assert _paged(level, "alice")
    assert not _paged(level, "dave")
    assert not _paged(level, "carol")
    assert not _paged({"explanation": {}}, "alice")
