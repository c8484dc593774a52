"""A request body member the route does not know is a 422 naming it, not ignored: ignored, a misspelt member
changes what the request does without a word (a window that was to begin tonight begins now and silences the
service, a token meant to be a viewer's is a responder's that never expires, an escalation to level 3 pages the
next level). Each call below names a thing that does not exist, so without the check it is a 404 and changes
nothing; the token, the one that would be made, is revoked if it was."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

LATER = "2091-01-01T02:00:00Z"


@pytest.mark.parametrize(
    ("path", "body", "member"),
    [
        ("/v1/services/nosuch/maintenance", {"ends_at": LATER, "start_at": "2091-01-01T01:00:00Z"}, "start_at"),
        ("/v1/incidents/nosuch/escalate", {"levle": 3}, "levle"),
        ("/v1/incidents/nosuch/acknowledge", {"note": "mine", "user": "carol"}, "user"),
        ("/v1/services/nosuch/drills", {"silent": True, "minute": 5}, "minute"),
        (
            "/v1/schedules/nosuch/overrides",
            {"user": "carol", "start": "2091-01-01T00:00:00Z", "end": LATER, "replace": "bob"},
            "replace",
        ),
        ("/v1/calendar-feeds", {"schedule": "nosuch", "users": "carol"}, "users"),
    ],
)
async def test_an_unknown_member_is_refused(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], member: str
) -> None:
    answer = await api.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert f"body.{member}: Extra inputs are not permitted" in answer.json()["detail"]


async def test_a_token_with_a_misspelt_member_is_not_made(api: httpx.AsyncClient) -> None:
    answer = await api.post("/v1/tokens", json={"user": "carol", "roles": "viewer", "expires": LATER})
    if answer.status_code == 201:  # made as a responder's that never expires: take it back
        revoked = await api.delete(f"/v1/tokens/{answer.json()['id']}")
        assert revoked.status_code == 200, revoked.text
    assert answer.status_code == 422, answer.text
    assert "body.roles: Extra inputs are not permitted" in answer.json()["detail"]
