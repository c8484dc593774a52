"""Scenario: a heartbeat across a router restart (SIGTERM and start again).

What must hold: the router remembers the last beat after the restart (no alarm right after it, no heartbeat
forgotten); when the beats then stop, the owning service gets a "gone silent" incident through the normal path,
paged; the next beat resolves it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.faults.stack import API_TOKEN, Stack
from tests.helpers import eventually

pytestmark = pytest.mark.faults

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
KEY = "hb:faults-heartbeat"


async def _heartbeat(client: httpx.AsyncClient, stack: Stack) -> dict[str, Any]:
    listed = (await client.get(f"{stack.url('router-1')}/v1/heartbeats", headers=AUTH)).json()["heartbeats"]
    return next(h for h in listed if h["integration"] == "faults-heartbeat")


async def _outcomes(client: httpx.AsyncClient, stack: Stack) -> list[dict[str, Any]]:
    response = await client.get(f"{stack.url('router-1')}/v1/decisions", params={"dedup_key": KEY}, headers=AUTH)
    return list(reversed(response.json()["items"]))


async def test_heartbeat_survives_a_router_restart_then_silence_pages_and_a_beat_resolves(stack: Stack) -> None:
    """The stack is the session's: configured and never beaten, the heartbeat is monitored from its router's first
    timer pass and may have paged "gone silent" before this scenario; only what happens after its beat counts."""
    async with httpx.AsyncClient(timeout=10) as client:
        earlier = {d["id"] for d in await _outcomes(client, stack)}
        beat = await client.post(f"{stack.url('ingest')}/v1/heartbeats/faults-heartbeat-key")
        assert beat.status_code == 202, beat.text

        async def ok() -> dict[str, Any] | None:
            found = await _heartbeat(client, stack)
            return found if found["state"] == "ok" else None

        before = await eventually(ok, timeout=30, what="the beat recorded by the router")
        await stack.restart("router-1")
        after = await _heartbeat(client, stack)
        assert after["last_beat_at"] == before["last_beat_at"] and after["state"] == "ok"
        since_beat = [d for d in await _outcomes(client, stack) if d["id"] not in earlier]
        assert all(d["outcome"] != "paged" for d in since_beat), "an alarm right after a restart"

        async def paged() -> dict[str, Any] | None:
            decisions = await _outcomes(client, stack)
            return next((d for d in decisions if d["outcome"] == "paged" and d["id"] not in earlier), None)

        silent = await eventually(paged, timeout=60, what="the gone-silent incident")
        assert "has gone silent: no heartbeat from faults-heartbeat" in silent["explanation"]["event"]["summary"]
        assert silent["service_id"] == "faults"
        assert (await _heartbeat(client, stack))["state"] == "silent"

        again = await client.post(f"{stack.url('ingest')}/v1/heartbeats/faults-heartbeat-key")
        assert again.status_code == 202

        async def resolved() -> dict[str, Any] | None:
            decisions = await _outcomes(client, stack)
            return next(
                (d for d in decisions if d["incident_id"] == silent["incident_id"] and d["outcome"] == "resolved"), None
            )

        await eventually(resolved, timeout=30, what="the incident resolved by the next beat")
        incident = (
            await client.get(f"{stack.url('router-1')}/v1/incidents/{silent['incident_id']}", headers=AUTH)
        ).json()
        assert incident["incident"]["status"] == "resolved"
        assert (await _heartbeat(client, stack))["state"] == "ok"
