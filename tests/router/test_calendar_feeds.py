"""Calendar feed URLs: a secret in the path instead of an Authorization header, revocable, audited."""

from __future__ import annotations

import httpx

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
