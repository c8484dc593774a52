"""Configuration versions: each version that comes into force is kept with who loaded it, listed newest first with
an opaque cursor, and any two can be compared section by section (the diff ``alertrouter config diff`` prints)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertrouter_router import config_versions
from alertrouter_router.config_watch import keep_loaded, look_for_change
from alertrouter_router.db.pool import make_pool
from alertrouter_router.runtime import RouterRuntime, build_state, reload_on_signal
from tests.helpers import free_port
from tests.router.access_support import client_for, new_token
from tests.router.conftest import BILLING_SERVICE, CONFIG, TOKEN, router_settings


@pytest.fixture
async def own_router(kafka_bootstrap: str, router_database_url: str, tmp_path: Path) -> AsyncIterator[RouterRuntime]:
    """A router API process of its own on a copy of the configuration (the watch off: only reloads load)."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    settings = router_settings(
        kafka_bootstrap, router_database_url, config_path=str(folder), config_poll_seconds=0, outbox_poll_seconds=5
    )
    runtime = RouterRuntime(settings, consume=False)
    await runtime.start()
    yield runtime
    runtime.stop()
    await asyncio.wait_for(runtime.wait(), 30)


async def _newest(client: httpx.AsyncClient) -> dict[str, Any]:
    page = await client.get("/v1/config/versions", params={"limit": 1})
    assert page.status_code == 200, page.text
    return dict(page.json()["items"][0])


async def test_versions_are_kept_with_who_loaded_them_and_compared(
    own_router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    folder = Path(own_router.state.configs.path)
    original = own_router.state.configs.current.version
    alice = client_for(own_router, await new_token(api, user="alice", role="admin"))
    async with alice:
        (folder / "billing.yaml").write_text(BILLING_SERVICE, encoding="utf-8")
        main = folder / "ownership.yaml"
        main.write_text(main.read_text().replace("name: Checkout", "name: Checkout v2", 1), encoding="utf-8")
        reloaded = await alice.post("/v1/config/reload")
        assert reloaded.status_code == 200, reloaded.text
        changed = reloaded.json()["version"]
        assert changed != original

        newest = await _newest(alice)
        assert (newest["version"], newest["trigger"], newest["loaded_by"]) == (changed, "api", "alice")
        assert newest["token_id"] and newest["source_version"] == reloaded.json()["source_version"]
        assert sorted(Path(f).name for f in newest["files"]) == ["billing.yaml", "ownership.yaml"]

        diff = await alice.get(f"/v1/config/versions/{original[:12]}/diff/current")
        assert diff.status_code == 200, diff.text
        body = diff.json()
        assert (body["from_version"]["version"], body["to_version"]["version"]) == (original, changed)
        sections = {s["section"]: s for s in body["sections"]}
        assert set(sections) == {"services", "route_rules"}
        assert sections["services"]["added"] == ["billing"] and sections["services"]["removed"] == []
        assert sections["services"]["changed"] == {
            "checkout": [{"path": "name", "before": "Checkout", "after": "Checkout v2"}]
        }
        assert sections["route_rules"]["added"] == ["billing-component"]
        assert "  + billing" in body["text"] and "name: 'Checkout' -> 'Checkout v2'" in body["text"]
        back = (await alice.get(f"/v1/config/versions/{changed}/diff/{original}")).json()
        assert {s["section"]: s["removed"] for s in back["sections"]}["services"] == ["billing"]

        (folder / "billing.yaml").write_text(BILLING_SERVICE.replace("payments-default", "nowhere"), encoding="utf-8")
        rejected = await alice.post("/v1/config/reload")
        assert rejected.status_code == 422 and "nowhere" in rejected.text
        assert (await _newest(alice))["version"] == changed  # a refused configuration is no version

        (folder / "billing.yaml").unlink()
        shutil.copy(CONFIG, main)
        assert (await alice.post("/v1/config/reload")).json()["version"] == original
        assert (await _newest(alice))["version"] == original  # back to an earlier version: kept again

        pages: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1}
        for _ in range(2):
            page = (await alice.get("/v1/config/versions", params=params)).json()
            pages += page["items"]
            assert page["next_cursor"]
            params["cursor"] = page["next_cursor"]
        assert [p["version"] for p in pages] == [original, changed]

        same = (await alice.get(f"/v1/config/versions/{original}/diff/{original}")).json()
        assert same["sections"] == [] and same["text"] == "no differences"


async def test_unknown_versions_and_cursors_are_problems(own_router: RouterRuntime) -> None:
    async with client_for(own_router, TOKEN) as client:
        unknown = await client.get(f"/v1/config/versions/{'0' * 64}/diff/current")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert "no kept configuration version" in unknown.json()["detail"]
        short = await client.get("/v1/config/versions/abc/diff/current")
        assert short.status_code == 404
        forged = await client.get("/v1/config/versions", params={"cursor": "YXVkaXQ6MTA="})  # an audit cursor
        assert forged.status_code == 422 and "cursor" in forged.json()["detail"]


async def test_a_version_loaded_while_the_database_is_away_is_kept_when_it_is_back(
    kafka_bootstrap: str, router_database_url: str, tmp_path: Path, unique: str
) -> None:
    config = tmp_path / "ownership.yaml"
    config.write_text(CONFIG.read_text().replace("name: Checkout", f"name: Checkout {unique}", 1), encoding="utf-8")
    away = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/absent"
    state = build_state(router_settings(kafka_bootstrap, away, config_path=str(config)))
    await state.pool
    loaded = state.configs.unkept
    assert loaded is not None and loaded.trigger == "startup"
    try:
        await keep_loaded(state)  # refused connection: kept for later, the process goes on
        assert state.configs.unkept is loaded
        await state.pool.close()
        state.pool = make_pool(router_database_url, 2)
        await state.pool
        await keep_loaded(state)
        assert state.configs.unkept is None
        async with state.pool.acquire() as conn:
            kept = await config_versions.find(conn, loaded.version)
        assert kept is not None and (kept["trigger"], kept["loaded_by"]) == ("startup", "client:startup")
        assert kept["content"]["services"][0]["name"] == f"Checkout {unique}"
    finally:
        await state.pool.close()
        await state.engine.dispose()
        await state.producer.stop()  # never started: build_state makes one


async def test_signal_and_watch_loads_are_kept_with_their_trigger(own_router: RouterRuntime) -> None:
    state = own_router.state
    folder = Path(state.configs.path)
    (folder / "billing.yaml").write_text(BILLING_SERVICE, encoding="utf-8")
    await reload_on_signal(state)
    async with client_for(own_router, TOKEN) as client:
        by_signal = await _newest(client)
        assert (by_signal["trigger"], by_signal["loaded_by"]) == ("sighup", "client:sighup")
        assert by_signal["version"] == state.configs.current.version

        (folder / "billing.yaml").write_text(
            BILLING_SERVICE.replace("name: Billing", "name: Billing v2"), encoding="utf-8"
        )
        assert not look_for_change(state)  # seen once: not loaded before it settles
        assert look_for_change(state)
        await keep_loaded(state)
        by_watch = await _newest(client)
        assert (by_watch["trigger"], by_watch["loaded_by"]) == ("watch", "client:watch")
        assert (await client.get("/v1/config")).json()["version"] == by_watch["version"] != by_signal["version"]
        assert not look_for_change(state)
