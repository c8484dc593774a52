"""A drill in the stack of processes: router → Kafka → notifier → the capture server, then acknowledged by the
person paged, and its report read back with the notifier's delivery result in it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.conftest import TOKEN, Stack
from tests.helpers import eventually

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def primary_on_call(client: httpx.AsyncClient, user: str) -> AsyncIterator[None]:
    """``user`` on call for payments-primary (checkout's level 1) while the test runs, whatever the week: the
    example rotation has anna on call one week in three, and her Slack page fails in a stack with no Slack app."""
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(minutes=1)).isoformat(), "end": (now + timedelta(hours=1)).isoformat()}
    created = await client.post("/v1/schedules/payments-primary/overrides", json={"user": user, **window})
    assert created.status_code == 201, created.text
    try:
        yield
    finally:
        removed = await client.delete(f"/v1/schedules/payments-primary/overrides/{created.json()['id']}")
        assert removed.status_code == 200, removed.text


async def test_a_drill_pages_marked_drill_and_its_report_follows_the_acknowledgement(stack: Stack) -> None:
    client = httpx.AsyncClient(base_url=stack.router, headers=AUTH, timeout=10)
    async with client, primary_on_call(client, "clara"):
        started = await client.post("/v1/services/checkout/drills", json={"by": "anna", "note": "rehearsal"})
        assert started.status_code == 202, started.text
        drill = started.json()

        async def captured() -> dict[str, Any] | None:
            for item in stack.captured:
                body: Any = item["body"]
                if isinstance(body, dict) and body.get("page", {}).get("dedup_key") == drill["dedup_key"]:
                    return body
            return None

        body = await eventually(captured, timeout=60, what="the drill's webhook at the capture server")
        assert body["drill"] is True and body["page"]["drill"] is True
        assert body["text"].startswith("[DRILL] [CRITICAL] Checkout"), body["text"]
        paged = body["page"]["user_id"]
        assert paged == "clara", body["page"]

        async def reached() -> dict[str, Any] | None:
            report: dict[str, Any] = (await client.get(f"/v1/drills/{drill['id']}")).json()
            return report if report["time_to_first_reach_seconds"] is not None else None

        report = await eventually(reached, timeout=30, what="the delivery result in the drill's report")
        first = report["levels"][0]
        assert (first["level"], first["round"]) == (1, 1) and paged in first["reached"]
        assert 0 <= report["time_to_first_page_seconds"] <= report["time_to_first_reach_seconds"] < 60

        ack = await client.post(f"/v1/incidents/{report['incident']}/acknowledge", json={"by": paged})
        assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
        done = (await client.get(f"/v1/drills/{drill['id']}")).json()
        assert (done["status"], done["acknowledged_by"]) == ("acknowledged", paged)
        assert done["time_to_acknowledge_seconds"] >= done["time_to_first_reach_seconds"]
        listed = (await client.get("/v1/incidents", params={"service": "checkout", "limit": 500})).json()["items"]
        assert report["incident"] not in [i["id"] for i in listed]
        drills = (await client.get("/v1/incidents", params={"drill": "true"})).json()["items"]
        assert report["incident"] in [i["id"] for i in drills]
        assert done["failures"] == []


async def test_a_silent_drill_has_the_notifier_check_its_providers(stack: Stack) -> None:
    """The router process asks the notifier process (which has no Twilio account in this stack) over HTTP."""
    async with httpx.AsyncClient(base_url=stack.router, headers=AUTH, timeout=30) as client:
        response = await client.post("/v1/services/checkout/drills", json={"silent": True, "by": "anna"})
    assert response.status_code == 201, response.text
    report = response.json()
    channels = {m["type"] for level in report["levels"] for t in level["targets"] for m in t["contact_methods"]}
    results = report["providers"]["providers"]
    assert {r["channel"] for r in results} == channels and "sms" in channels
    by_channel = {r["channel"]: r for r in results}
    assert by_channel["webhook"]["status"] == "not checked"
    assert by_channel["sms"]["status"] == "not configured"
    assert "sms: no provider configured: no Twilio account (NOTIFIER_TWILIO_*)" in report["failures"]
    assert report["ok"] is False
