"""The audit trail of reloads (API and SIGHUP) and its filters."""

from __future__ import annotations

from datetime import timedelta

import httpx

from alertrouter_router.runtime import RouterRuntime, reload_on_signal
from tests.router.access_support import client_for, new_token


async def test_reloads_are_audited_with_who_asked(router: RouterRuntime, api: httpx.AsyncClient) -> None:
    since = router.state.clock.now() - timedelta(seconds=1)
    version = router.state.configs.current.version
    assert (await api.post("/v1/config/reload")).status_code == 200
    await reload_on_signal(router.state)
    entries = (await api.get("/v1/audit", params={"action": "config.reload", "since": since.isoformat()})).json()
    [by_signal, by_api] = entries["items"][:2]
    assert by_signal["actor"] == "client:sighup" and by_api["actor"].startswith("client:bootstrap-")
    assert by_api["before"] == by_api["after"] == {"version": version}
    assert by_api["target_type"] == "config" and by_api["target_id"] == "ownership"
    later = (router.state.clock.now() + timedelta(hours=1)).isoformat()
    assert (await api.get("/v1/audit", params={"since": later})).json()["items"] == []
    viewer = client_for(router, await new_token(api, user="carol", role="viewer"))
    async with viewer:
        assert (await viewer.get("/v1/audit", params={"actor": "client:sighup"})).status_code == 200
        refused = await viewer.post("/v1/config/reload")
        assert refused.status_code == 403 and "needs the admin role" in refused.json()["detail"]


async def test_a_teams_trail_holds_the_overrides_and_feeds_of_its_schedules_and_people(
    router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    """Overrides and feeds carry no team of their own: ``?team=`` finds them through the configuration."""
    since = router.state.clock.now().isoformat()  # entries of earlier tests are older
    later = router.state.clock.now() + timedelta(days=30)  # far off: no other test's paging changes
    window = {"start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()}
    made = await api.post("/v1/schedules/payments-primary/overrides", json={"user": "bob", **window})
    assert made.status_code == 201, made.text
    override = made.json()["id"]
    assert (await api.delete(f"/v1/schedules/payments-primary/overrides/{override}")).status_code == 200
    feeds = {}
    for body in ({"schedule": "platform-primary"}, {"user": "dave"}, {"user": "alice"}):
        created = await api.post("/v1/calendar-feeds", json=body)
        assert created.status_code == 201, created.text
        feeds[next(iter(body.values()))] = created.json()["id"]

    async def trail(team: str) -> list[tuple[str, str]]:
        listed = await api.get("/v1/audit", params={"team": team, "since": since, "limit": 500})
        assert listed.status_code == 200, listed.text
        return [(e["action"], e["target_id"]) for e in listed.json()["items"] if e["target_type"] != "incident"]

    assert await trail("platform") == [
        ("calendar_feed.create", feeds["dave"]),
        ("calendar_feed.create", feeds["platform-primary"]),
    ]
    assert await trail("payments") == [
        ("calendar_feed.create", feeds["alice"]),
        ("override.delete", override),
        ("override.create", override),
    ]
    assert await trail("ghosts") == []
