"""Change events end to end: ingest records them, the router stores them per service, and an incident of that
service shows the ones within an hour of its opening in its timeline (kind "change")."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.topics import CHANGES_DLQ
from tests.helpers import DatabaseFactory, TopicReader, eventually
from tests.ingest.conftest import EV2_KEY, fixture_json
from tests.router.conftest import TOKEN, router_settings


@pytest.fixture(scope="module")
def migrated_database(databases: DatabaseFactory) -> str:
    url = databases.create()
    upgrade_to_head(url, wait=30)
    return url


@pytest.fixture(scope="module")
async def router_api(kafka_bootstrap: str, migrated_database: str) -> AsyncIterator[httpx.AsyncClient]:
    """A router of its own (real clock, fresh database migrated to head, its own consumer groups)."""
    runtime = RouterRuntime(router_settings(kafka_bootstrap, migrated_database))
    await runtime.start()
    base = f"http://127.0.0.1:{runtime.state.settings.port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as api:
            yield api
    finally:
        runtime.stop()
        await asyncio.wait_for(runtime.wait(), 30)


def change(summary: str, at: datetime) -> dict[str, Any]:
    body: dict[str, Any] = fixture_json("pagerduty/change-event.json")
    body["payload"] = body["payload"] | {"summary": summary, "timestamp": at.isoformat()}
    return body


async def test_an_incident_shows_its_services_changes_of_the_hour_around_it(
    client: httpx.AsyncClient, router_api: httpx.AsyncClient
) -> None:
    token = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    sent = {
        f"deployed v2.3 {token}": now - timedelta(minutes=12),
        f"flag flipped {token}": now + timedelta(minutes=30),
        f"old deploy {token}": now - timedelta(hours=2),
    }
    for summary, at in sent.items():
        assert (await client.post("/v2/change/enqueue", json=change(summary, at))).status_code == 202
    trigger = fixture_json("pagerduty/trigger.json") | {"routing_key": EV2_KEY, "dedup_key": f"changes-{token}"}
    assert (await client.post("/v2/enqueue", content=json.dumps(trigger).encode())).status_code == 202

    async def incident() -> dict[str, Any] | None:
        listed = (await router_api.get("/v1/incidents", params={"service": "checkout", "limit": 500})).json()
        found = [item for item in listed["items"] if item["dedup_key"] == f"ev2:test-ev2:changes-{token}"]
        return found[0] if found else None

    opened = await eventually(incident, timeout=120, what="the router to open the incident")

    async def changes_shown() -> list[dict[str, Any]] | None:
        response = await router_api.get(f"/v1/incidents/{opened['id']}")
        assert response.status_code == 200, response.text
        entries = [entry for entry in response.json()["timeline"] if entry["kind"] == "change"]
        mine = [entry for entry in entries if token in entry["summary"]]
        return mine if len(mine) == 2 else None

    shown = await eventually(changes_shown, timeout=60, what="the two changes near the incident in its timeline")
    assert [entry["summary"] for entry in shown] == [f"deployed v2.3 {token}", f"flag flipped {token}"]
    assert [entry["minutes_from_opening"] for entry in shown] == [-12, 30]
    assert shown[0]["source"] == "github-actions/checkout-api/deploy-prod"
    assert shown[0]["links"][0] == {
        "href": "https://github.example.com/shop/checkout-api/actions/runs/812",
        "text": "Deploy run 812",
    }


async def test_a_change_the_database_refuses_is_dead_lettered_and_holds_back_none_after_it(
    client: httpx.AsyncClient, router_api: httpx.AsyncClient, migrated_database: str, kafka_bootstrap: str
) -> None:
    """No input of ours is known to make the insert fail for a reason other than an outage, so a trigger of the
    test's database refuses one change: without isolation the batch was retried forever, and no change of any
    service after it was stored again."""
    token = uuid.uuid4().hex[:8]
    refuse = f"""
        CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '23514'; END $$;
        CREATE OR REPLACE TRIGGER refuse_poison_{token} BEFORE INSERT ON router_change_event FOR EACH ROW
        WHEN (NEW.summary LIKE 'poison {token}%') EXECUTE FUNCTION refuse_poison();
    """
    conn = await asyncpg.connect(**connect_arguments(migrated_database))
    try:
        await conn.execute(refuse)
        dead_letters = await TopicReader(kafka_bootstrap, CHANGES_DLQ).start()
        try:
            now = datetime.now(UTC)
            for summary in (f"before {token}", f"poison {token}", f"after {token}"):
                assert (await client.post("/v2/change/enqueue", json=change(summary, now))).status_code == 202

            async def stored() -> list[str] | None:
                rows = await conn.fetch(
                    "SELECT summary FROM router_change_event WHERE summary LIKE $1 ORDER BY summary", f"%{token}"
                )
                return [row["summary"] for row in rows] if len(rows) == 2 else None

            assert await eventually(stored, timeout=60, what="the changes around the refused one") == [
                f"after {token}",
                f"before {token}",
            ]
            refused = await eventually(
                lambda: _dead_lettered(dead_letters, token), timeout=30, what="the refused change in the DLQ"
            )
        finally:
            await dead_letters.stop()
    finally:
        await conn.execute(f"DROP TRIGGER refuse_poison_{token} ON router_change_event")
        await conn.close()
    assert [json.loads(value)["summary"] for value in refused] == [f"poison {token}"]


async def _dead_lettered(reader: TopicReader, token: str) -> list[bytes] | None:
    return [value for value in reader.values if token.encode() in value] or None
