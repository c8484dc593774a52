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
