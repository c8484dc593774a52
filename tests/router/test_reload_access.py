"""Who may act on an open incident after a reload moved its service to another team (or renamed the team)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from alertrouter_router.runtime import RouterRuntime
from tests.router.access_support import client_for, new_token, open_incident
from tests.router.conftest import CONFIG, TOKEN, router_settings


@pytest.fixture
async def moved_router(kafka_bootstrap: str, router_database_url: str, tmp_path: Path) -> AsyncIterator[RouterRuntime]:
    """A router API process serving the configuration after the change: checkout now belongs to team platform."""
    folder = tmp_path / "config"
    folder.mkdir()
    document = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for service in document["services"]:
        if service["id"] == "checkout":
            service["owner_team"] = "platform"
    (folder / "ownership.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    settings = router_settings(kafka_bootstrap, router_database_url, config_path=str(folder), config_poll_seconds=0)
    runtime = RouterRuntime(settings, consume=False)
    await runtime.start()
    assert runtime.state.configs.current.services_by_id["checkout"].owner_team == "platform"
    yield runtime
    runtime.stop()
    await asyncio.wait_for(runtime.wait(), 30)


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
