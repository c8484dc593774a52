"""Tokens of people and machine clients, and incidents of a team, for the access tests."""

from __future__ import annotations

from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router.runtime import RouterRuntime
from tests.helpers import eventually
from tests.router.conftest import alert_event, send


async def new_token(admin: httpx.AsyncClient, **body: Any) -> str:
    """A token created through the API by the admin client; returns its secret."""
    response = await admin.post("/v1/tokens", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def client_for(router: RouterRuntime, token: str) -> httpx.AsyncClient:
    base = f"http://127.0.0.1:{router.state.settings.port}"
    return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)


async def open_incident(api: httpx.AsyncClient, producer: AIOKafkaProducer, service: str, key: str) -> str:
    """Fire an alert for ``service`` and wait for the incident it opens."""
    await send(producer, alert_event(key, {"service": service, "alertname": "Down"}))

    async def opened() -> str | None:
        items = (await api.get("/v1/decisions", params={"dedup_key": key})).json()["items"]
        return next((d["incident_id"] for d in items if d["incident_id"]), None)

    return await eventually(opened, what=f"an incident of {service} for {key}")
