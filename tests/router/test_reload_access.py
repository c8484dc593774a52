"""Who may act on an open incident after a reload moved its service to another team (or renamed the team)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from alertrouter_router.runtime import RouterRuntime
from tests.router.access_support import client_for, new_token, open_incident
from tests.router.conftest import CONFIG, TOKEN, router_settings


@asynccontextmanager
async def _serving(
    kafka_bootstrap: str, database_url: str, folder: Path, document: Any
) -> AsyncIterator[RouterRuntime]:
    """A router API process serving ``document`` (the configuration after the change)."""
    folder.mkdir()
    (folder / "ownership.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    settings = router_settings(kafka_bootstrap, database_url, config_path=str(folder), config_poll_seconds=0)
    runtime = RouterRuntime(settings, consume=False)
    await runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
        await asyncio.wait_for(runtime.wait(), 30)


@pytest.fixture
async def moved_router(kafka_bootstrap: str, router_database_url: str, tmp_path: Path) -> AsyncIterator[RouterRuntime]:
    """After the change: checkout now belongs to team platform."""
    document = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for service in document["services"]:
        if service["id"] == "checkout":
            service["owner_team"] = "platform"
    async with _serving(kafka_bootstrap, router_database_url, tmp_path / "config", document) as runtime:
        assert runtime.state.configs.current.services_by_id["checkout"].owner_team == "platform"
        yield runtime


@pytest.fixture
async def renamed_router(
    kafka_bootstrap: str, router_database_url: str, tmp_path: Path
) -> AsyncIterator[RouterRuntime]:
    """After the change: checkout renamed shop-checkout and given to team platform, its policy kept."""
    document = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for item in document["services"]:
        if item["id"] == "checkout":
            item.update(id="shop-checkout", owner_team="platform")
    for item in document["route_rules"] + document["integrations"]:
        if item.get("service") == "checkout":
            item["service"] = "shop-checkout"
    async with _serving(kafka_bootstrap, router_database_url, tmp_path / "renamed", document) as runtime:
        yield runtime


async def test_the_team_a_renamed_service_routes_to_may_act_on_its_open_incident(
    renamed_router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    """The incident kept team payments and service checkout, which no longer exists: dave of platform, which owns
    the service its alert routes to now (and is paged by its policy), was refused, and only an admin could act."""
    incident = await open_incident(api, producer, "checkout", f"am:test-am:{unique}-renamed")
    dave = client_for(renamed_router, await new_token(api, user="dave", role="responder"))
    async with dave:
        acknowledged = await dave.post(f"/v1/incidents/{incident}/acknowledge", json={})
    assert acknowledged.status_code == 200, acknowledged.text
    await api.post(f"/v1/incidents/{incident}/resolve", json={"by": "alice"})


async def test_the_team_a_reload_gave_the_service_may_act_on_its_open_incident(
    moved_router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    """The incident kept the team it was opened for: dave, a responder of platform, which owns checkout now (and
    whose schedule its policy may page), was refused -- "may not acknowledge incidents of team payments" -- and
    only an admin could stop its escalation."""
    incident = await open_incident(api, producer, "checkout", f"am:test-am:{unique}-moved")
    dave = client_for(moved_router, await new_token(api, user="dave", role="responder"))
    bob = client_for(moved_router, await new_token(api, user="bob", role="responder"))
    async with dave, bob:
        acknowledged = await dave.post(f"/v1/incidents/{incident}/acknowledge", json={})
        assert acknowledged.status_code == 200, acknowledged.text
        # the team it was opened for, and paged, may still act on it
        resolved = await bob.post(f"/v1/incidents/{incident}/resolve", json={"note": "moved to platform"})
        assert resolved.status_code == 200, resolved.text
    state = (await api.get(f"/v1/incidents/{incident}")).json()["incident"]
    assert (state["status"], state["acknowledged_by"], state["resolved_by"]) == ("resolved", "dave", "bob")


async def test_a_person_of_the_team_a_reload_gave_the_service_may_answer_through_the_relay(
    moved_router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    """The same through the notifier's relay (a Slack button, an SMS reply, a key press): the person it names is
    checked the API's way, so dave of platform, which owns checkout now, may answer; before, only the team the
    incident was opened for could."""
    incident = await open_incident(api, producer, "checkout", f"am:test-am:{unique}-moved-relay")
    relay = client_for(moved_router, TOKEN)  # an admin machine client with act_as, as the notifier's token is
    async with relay:
        acknowledged = await relay.post(f"/v1/incidents/{incident}/acknowledge", json={"by": "dave"})
        assert acknowledged.status_code == 200, acknowledged.text
        resolved = await relay.post(f"/v1/incidents/{incident}/resolve", json={"by": "bob"})
        assert resolved.status_code == 200, resolved.text
    state = (await api.get(f"/v1/incidents/{incident}")).json()["incident"]
    assert (state["status"], state["acknowledged_by"], state["resolved_by"]) == ("resolved", "dave", "bob")
