"""Calendar feed URLs: a secret in the path instead of an Authorization header, revocable, audited, and never
longer-lived than the token that made them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertrouter_router.api.calendar_feeds import creator_refused
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.runtime import RouterRuntime
from tests.router.access_support import client_for, new_token


async def test_a_feed_url_serves_the_calendar_without_a_header_until_revoked(
    router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    carol = client_for(router, await new_token(api, user="carol", role="viewer"))
    bob = client_for(router, await new_token(api, user="bob", role="responder"))
    base = f"http://127.0.0.1:{router.state.settings.port}"
    async with carol, bob, httpx.AsyncClient(base_url=base) as anonymous:
        created = await carol.post("/v1/calendar-feeds", json={"schedule": "payments-primary"})
        assert created.status_code == 201
        feed = created.json()
        assert feed["created_by"] == "carol" and feed["url"].startswith("/calendar/")
        served = await anonymous.get(feed["url"])
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/calendar")
        assert "On call: Alice Example (Payments primary)" in served.text.replace("\r\n ", "")
        assert feed["url"] not in str((await carol.get("/v1/calendar-feeds")).json())  # the secret is shown once
        bobs = (await bob.get("/v1/calendar-feeds")).json()["items"]  # only one's own
        assert feed["id"] not in {f["id"] for f in bobs} and all(f["created_by"] == "bob" for f in bobs)

        mine = (await carol.post("/v1/calendar-feeds", json={"user": "alice"})).json()
        assert (await anonymous.get(mine["url"])).text.count("BEGIN:VEVENT") >= 1
        # bob is on no rotation: his feed has no shift, and is still a calendar with a component (RFC 5545)
        bobs_own = (await bob.post("/v1/calendar-feeds", json={"user": "bob"})).json()
        empty = (await anonymous.get(bobs_own["url"])).text
        assert "BEGIN:VEVENT" not in empty
        assert "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n" in empty
        assert (await bob.delete(f"/v1/calendar-feeds/{bobs_own['id']}")).status_code == 200

        refused = await bob.delete(f"/v1/calendar-feeds/{feed['id']}")
        assert refused.status_code == 403 and "may not revoke a calendar feed carol made" in refused.text
        assert (await carol.delete(f"/v1/calendar-feeds/{feed['id']}")).status_code == 200
        gone = await anonymous.get(feed["url"])
        assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"
        assert (await api.delete(f"/v1/calendar-feeds/{mine['id']}")).status_code == 200  # an admin may
        assert (await anonymous.get(mine["url"])).status_code == 404
        assert (await anonymous.get("/calendar/not-a-secret.ics")).status_code == 404

        unknown = await carol.post("/v1/calendar-feeds", json={"schedule": "nope"})
        assert unknown.status_code == 422 and "'nope' is not in the ownership configuration" in unknown.text
    trail = (await api.get("/v1/audit", params={"target_id": feed["id"]})).json()["items"]
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("calendar_feed.revoke", "carol"),
        ("calendar_feed.create", "carol"),
    ]


async def test_a_feed_url_dies_with_the_token_that_made_it(router: RouterRuntime, api: httpx.AsyncClient) -> None:
    made = await api.post("/v1/tokens", json={"user": "carol", "role": "viewer"})
    assert made.status_code == 201, made.text
    token = made.json()
    base = f"http://127.0.0.1:{router.state.settings.port}"
    async with client_for(router, token["token"]) as carol, httpx.AsyncClient(base_url=base) as anonymous:
        feed = (await carol.post("/v1/calendar-feeds", json={"schedule": "payments-primary"})).json()
        by_admin = (await api.post("/v1/calendar-feeds", json={"user": "alice"})).json()  # a bootstrap client's
        assert (await anonymous.get(feed["url"])).status_code == 200
        assert (await api.delete(f"/v1/tokens/{token['id']}")).status_code == 200
        gone = await anonymous.get(feed["url"])
        assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"
        assert (await anonymous.get(by_admin["url"])).status_code == 200  # its bootstrap entry is still configured
    listed = (await api.get("/v1/calendar-feeds")).json()["items"]
    assert feed["id"] in {f["id"] for f in listed}  # not revoked itself: the token's revocation is what counts


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BOOTSTRAP = "client:bootstrap-0123abcd"


def _row(created_by: str, token: dict[str, Any] | None = None) -> dict[str, Any]:
    stored: dict[str, Any] = {"token_found": None, "revoked_at": None, "expires_at": None, "user_id": None}
    if token is not None:
        stored |= {"token_found": "t1", **token}
    return {"created_by": created_by, "token_id": None if token is None else "t1", **stored}


@pytest.mark.parametrize(
    ("row", "refused"),
    [
        (_row("carol", {"user_id": "carol"}), False),
        (_row("carol", {"user_id": "carol", "revoked_at": NOW - timedelta(days=1)}), True),
        (_row("carol", {"user_id": "carol", "expires_at": NOW}), True),
        (_row("carol", {"user_id": "carol", "expires_at": NOW + timedelta(seconds=1)}), False),
        (_row("zed", {"user_id": "zed"}), True),  # the person left the configuration
        (_row("client:ci", {"user_id": None}), False),
        ({**_row("carol", {"user_id": "carol"}), "token_found": None}, True),  # no such token on record
        (_row(BOOTSTRAP), False),  # made by a bootstrap client still configured
        (_row("client:bootstrap-99999999"), True),  # one no longer configured
        (_row("carol"), False),  # made before migration 0016: the person is still configured
        (_row("zed"), True),
        (_row("client:ci"), False),  # a stored client's, before 0016: nothing to tell it by
    ],
)
def test_a_feed_is_refused_exactly_when_the_credential_that_made_it_would_be(
    row: dict[str, Any], refused: bool
) -> None:
    config = load_config(Path(__file__).parents[1] / "fixtures" / "router" / "ownership.yaml", secrets=False).config
    assert "carol" in config.users_by_id and "zed" not in config.users_by_id
    assert creator_refused(row, config, frozenset({BOOTSTRAP}), NOW) is refused
