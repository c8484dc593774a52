"""Webhook → ingest → Kafka → router (PostgreSQL) → Kafka → notifier → the capture server, as separate processes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import TOKEN, Stack
from tests.helpers import eventually

PAYLOAD = json.loads((Path(__file__).parents[2] / "examples" / "alertmanager-checkout.json").read_text())
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_one_alert_one_page_and_a_repeat_pages_nobody(stack: Stack, unique: str) -> None:
    payload = copy.deepcopy(PAYLOAD)
    payload["alerts"][0]["labels"]["instance"] = f"checkout-{unique}"
    payload["alerts"][0]["fingerprint"] = unique[:16].rjust(16, "0")
    async with httpx.AsyncClient(timeout=10) as client:
        accepted = await client.post(f"{stack.ingest}/v1/alertmanager/dev-alertmanager", json=payload)
        assert accepted.status_code == 202, accepted.text

        def pages() -> list[dict[str, Any]]:
            return [c for c in stack.captured if f"checkout-{unique}" in json.dumps(c["body"])]

        async def one_page() -> list[dict[str, Any]] | None:
            return pages() or None

        delivered = await eventually(one_page, timeout=60, what="the page at the capture server")
        assert len(delivered) == 1
        assert "X-Alertrouter-Signature" in delivered[0]["headers"] or any(
            h.lower() == "x-alertrouter-signature" for h in delivered[0]["headers"]
        )

        async def decision() -> dict[str, Any] | None:
            response = await client.get(f"{stack.router}/v1/decisions", params={"service": "checkout"}, headers=AUTH)
            for item in response.json()["items"]:
                if item["explanation"].get("event", {}).get("labels", {}).get("instance") == f"checkout-{unique}":
                    return dict(item)
            return None

        found = await eventually(decision, what="the routing decision")
        assert found["outcome"] == "paged" and found["team_id"] == "payments"
        by_id = await client.get(f"{stack.router}/v1/decisions/{found['id']}", headers=AUTH)
        assert by_id.status_code == 200 and by_id.json()["incident_id"] == found["incident_id"]

        async def delivery() -> list[Any] | None:
            response = await client.get(
                f"{stack.notifier}/v1/deliveries", params={"incident": found["incident_id"]}, headers=AUTH
            )
            items = response.json()["items"]
            return items if any(i["status"] in ("sent", "delivered") for i in items) else None

        await eventually(delivery, what="the delivery record")

        # The same payload again (Alertmanager repeats itself): a duplicate decision, no second page.
        again = await client.post(f"{stack.ingest}/v1/alertmanager/dev-alertmanager", json=payload)
        assert again.status_code == 202

        async def duplicate() -> bool:
            response = await client.get(
                f"{stack.router}/v1/decisions", params={"incident": found["incident_id"]}, headers=AUTH
            )
            return any(i["outcome"] == "duplicate" for i in response.json()["items"])

        await eventually(duplicate, what="the duplicate decision")
        # Once the duplicate is decided no page for it can be on its way from the router; a marker alert for another
        # service (checkout groups alerts for 5 minutes) proves the notifier kept consuming, then count again.
        marker = copy.deepcopy(PAYLOAD)
        marker["commonLabels"] = {}
        marker["alerts"][0]["labels"] = {"service": "ledger", "env": "prod", "instance": f"marker-{unique}"}
        marker["alerts"][0]["fingerprint"] = ("f" + unique)[:16].rjust(16, "0")
        assert (await client.post(f"{stack.ingest}/v1/alertmanager/dev-alertmanager", json=marker)).status_code == 202

        async def marker_page() -> bool:
            return any(f"marker-{unique}" in json.dumps(c["body"]) for c in stack.captured)

        await eventually(marker_page, timeout=60, what="the marker page")
        assert len(pages()) == 1
