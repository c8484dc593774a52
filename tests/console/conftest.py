"""The web console in a real browser: Debian's chromium driven by Playwright, against a real router (in-process,
on the session's Kafka and a PostgreSQL database of its own) and a real ingest app for sending alerts in.

Chromium comes from ``scripts/bootstrap.sh`` (``--browser``, automatic once this directory exists); the browser
builds Playwright downloads itself cannot be fetched here. A missing browser fails with how to get it.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from alertrouter_ingest.app import create_app as create_ingest_app
from alertrouter_ingest.publisher import Publisher
from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.runtime import RouterRuntime
from tests.helpers import DatabaseFactory, eventually
from tests.ingest.conftest import ingest_settings, serve
from tests.router.access_support import new_token
from tests.router.conftest import TOKEN, router_settings, skip_earlier_alerts

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "fixtures" / "console" / "ownership.yaml"
CHROMIUM = os.environ.get("CONSOLE_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / ".run" / "console-screenshots"
AM_KEY = "console-am-key"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-sized viewport


@dataclass(frozen=True)
class People:
    """Tokens of the fixture's people: alice team admin of payments, bob responder of payments, dave responder
    of platform, vera a viewer of payments."""

    alice: str
    bob: str
    dave: str
    vera: str


@pytest.fixture(scope="package")
def console_database_url(databases: DatabaseFactory) -> str:
    """A database of the console's own: its router consumes every alert, so it keeps its decisions apart."""
    database_url = databases.create()
    upgrade_to_head(database_url, wait=30)
    return database_url


# package-wide, not session-wide: a router consuming the shared alerts topic doubles the pages other suites count
@pytest.fixture(scope="package")
async def console_router(kafka_bootstrap: str, console_database_url: str) -> AsyncIterator[RouterRuntime]:
    database_url = console_database_url
    settings = router_settings(kafka_bootstrap, database_url, config_path=str(CONFIG))
    await skip_earlier_alerts(kafka_bootstrap, settings.consumer_group)
    runtime = RouterRuntime(settings)
    await runtime.start()
    yield runtime
    runtime.stop()
    await asyncio.wait_for(runtime.wait(), 30)


@pytest.fixture(scope="package")
def base_url(console_router: RouterRuntime) -> str:
    return f"http://127.0.0.1:{console_router.state.settings.port}"


@pytest.fixture(scope="package")
async def admin_api(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The bootstrap admin machine client (not a person: it cannot sign in to the console)."""
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as c:
        yield c


@pytest.fixture(scope="package")
async def people(admin_api: httpx.AsyncClient) -> People:
    return People(
        alice=await new_token(admin_api, user="alice", role="team_admin"),
        bob=await new_token(admin_api, user="bob", role="responder"),
        dave=await new_token(admin_api, user="dave", role="responder"),
        vera=await new_token(admin_api, user="carol", role="viewer"),
    )


@pytest.fixture(scope="package")
async def ingest(kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    """A real ingest app (its own transactional publisher) on the session's Kafka, with the console's config."""
    settings = ingest_settings(
        kafka_bootstrap, config_path=str(CONFIG), kafka_transactional_id_prefix=f"console-{uuid.uuid4().hex[:6]}"
    )
    publisher = Publisher(settings)
    await publisher.start()
    await publisher.wait_connected(timeout=60)
    async with serve(create_ingest_app(settings, publisher=publisher)) as client:
        yield client
    await publisher.stop()


async def fire(ingest: httpx.AsyncClient, service: str, alertname: str, summary: str) -> str:
    """An Alertmanager webhook to ingest; returns the alert's dedup key (``am:<integration>:<fingerprint>``)."""
    fingerprint = uuid.uuid4().hex[:16]
    labels = {"alertname": alertname, "service": service, "severity": "critical"}
    payload: dict[str, Any] = {
        "receiver": "console",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": summary},
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": fingerprint,
            }
        ],
        "groupLabels": {"alertname": alertname},
        "commonLabels": labels,
        "commonAnnotations": {"summary": summary},
        "externalURL": "http://alertmanager.test",
        "version": "4",
        "groupKey": f"{{}}:{{alertname={alertname!r}}}",
        "truncatedAlerts": 0,
    }
    response = await ingest.post(f"/v1/alertmanager/{AM_KEY}", content=json.dumps(payload))
    assert response.status_code in (200, 202), response.text
    return f"am:console-am:{fingerprint}"


async def fire_many(ingest: httpx.AsyncClient, service: str, count: int, unique: str) -> set[str]:
    """One Alertmanager webhook with ``count`` alerts of ``service`` (an alert storm); returns their dedup keys."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": f"Storm{n}", "service": service, "severity": "critical", "storm": unique},
            "annotations": {"summary": f"{service} storm {n} ({unique})"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": f"{unique}{n:04d}",
        }
        for n in range(count)
    ]
    payload: dict[str, Any] = {"receiver": "console", "status": "firing", "alerts": alerts, "groupLabels": {}}
    payload |= {"commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager.test"}
    payload |= {"version": "4", "groupKey": f"{{}}:{{storm={unique!r}}}", "truncatedAlerts": 0}
    response = await ingest.post(f"/v1/alertmanager/{AM_KEY}", content=json.dumps(payload))
    assert response.status_code in (200, 202), response.text
    return {f"am:console-am:{a['fingerprint']}" for a in alerts}


async def incidents_of(admin_api: httpx.AsyncClient, service: str, keys: set[str]) -> set[str]:
    """The open incidents of these dedup keys, once each has one."""

    async def opened() -> set[str] | None:
        listed = await admin_api.get("/v1/incidents", params={"service": service, "status": "open", "limit": 500})
        mine = {i["id"] for i in listed.json()["items"] if i["dedup_key"] in keys}
        return mine if len(mine) == len(keys) else None

    return await eventually(opened, timeout=60, what=f"{len(keys)} incidents of {service}")


async def resolve_all(admin_api: httpx.AsyncClient, incidents: set[str]) -> None:
    """End what a test opened (the console tests share one router): each resolve must be answered 200."""
    results = await asyncio.gather(*(admin_api.post(f"/v1/incidents/{i}/resolve", json={}) for i in incidents))
    refused = [r.text for r in results if r.status_code != 200]
    assert refused == [], refused


async def incident_of(admin_api: httpx.AsyncClient, dedup_key: str) -> str:
    async def probe() -> str | None:
        items = (await admin_api.get("/v1/decisions", params={"dedup_key": dedup_key})).json()["items"]
        return next((d["incident_id"] for d in items if d["incident_id"]), None)

    return await eventually(probe, timeout=30, what=f"the incident of {dedup_key}")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `bash scripts/bootstrap.sh --browser` (as root: apt-get install -y "
            "chromium chromium-driver), or set CONSOLE_TEST_CHROMIUM",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield launched
        await launched.close()


async def signed_in(browser: Browser, base_url: str, token: str, viewport: dict[str, int] = DESKTOP) -> Page:
    """A fresh browser context (its own cookies) signed in through the sign-in form."""
    context: BrowserContext = await browser.new_context(base_url=base_url, viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto("/ui/")
    assert "/ui/sign-in" in page.url
    await page.get_by_label("Token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base_url}/ui/")
    return page


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
