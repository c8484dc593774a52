"""The HTTP surface: deliveries filters and pagination, health, readiness, metrics; and the CLI as a process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
from alembic.script import ScriptDirectory
from sqlalchemy import text

from alertrouter_notifier.api.app import create_app
from alertrouter_notifier.db.migrate import MIGRATIONS
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType
from tests.helpers import eventually, free_port
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import READ_TOKEN, api_client, auth, deliveries_for, produce_pages
from tests.providers.servers import CaptureServer, Reply


async def test_filters_and_pagination(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    settings = make_settings()
    capture.script(Reply(410, {"error": "gone"}))
    pages = [make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook") for _ in range(5)]
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, pages)

        async def settled() -> list[dict[str, object]] | None:
            items = await deliveries_for(client, incident=pages[0].incident_id)
            return items if len(items) == 5 and all(i["status"] in ("sent", "failed") for i in items) else None

        await eventually(settled, what="five deliveries settled")
        seen: list[str] = []
        cursor = None
        for _ in range(3):
            params = {"incident": pages[0].incident_id, "limit": "2", **({"cursor": cursor} if cursor else {})}
            body = (await client.get("/v1/deliveries", params=params, headers=auth())).json()
            seen += [item["page_id"] for item in body["items"]]
            cursor = body["next_cursor"]
        assert cursor is None
        assert seen == [p.page_id for p in pages]  # oldest first, each once

        failed = await deliveries_for(client, incident=pages[0].incident_id, status="failed")
        assert len(failed) == 1  # whichever send reached the server first got the scripted 410
        assert len(await deliveries_for(client, incident=pages[0].incident_id, status="sent")) == 4
        assert len(await deliveries_for(client, incident=pages[0].incident_id, channel="webhook")) == 5
        assert await deliveries_for(client, incident=pages[0].incident_id, channel="sms") == []
        assert len(await deliveries_for(client, page=pages[2].page_id)) == 1

        metrics = (await client.get("/metrics")).text
        assert 'alertrouter_notifier_deliveries_total{channel="webhook",outcome="sent"}' in metrics
        assert "alertrouter_notifier_provider_latency_seconds_bucket" in metrics
        assert "alertrouter_notifier_retry_queue_depth" in metrics
        assert "alertrouter_notifier_oldest_pending_delivery_seconds" in metrics
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"kafka": "ok", "database": "ok"}


async def test_a_filter_that_cannot_match_as_written_is_422(make_settings: SettingsFactory) -> None:
    """A misspelt status or channel answered an empty page, and a misspelt parameter (``state=failed``) every
    delivery, unfiltered: both read as "nothing failed" at 3 a.m. Each is a 422 naming the parameter."""
    async with Notifier(make_settings()) as notifier, api_client(notifier) as client:
        for params, field in (
            ({"status": "faild"}, "query.status"),
            ({"channel": "text"}, "query.channel"),
            ({"state": "failed"}, "query.state"),
        ):
            answer = await client.get("/v1/deliveries", params=params, headers=auth())
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["detail"].startswith(f"{field}: "), answer.text
        every_status = ("pending", "retrying", "sending", "sent", "delivered", "undelivered", "failed", "expired")
        for status in (*every_status, "throttled"):  # docs/notifications.md's list: each is a filter
            answer = await client.get("/v1/deliveries", params={"status": status, "limit": 1}, headers=auth())
            assert answer.status_code == 200, answer.text


async def test_readyz_is_503_when_kafka_or_the_database_is_unreachable(make_settings: SettingsFactory) -> None:
    down = f"127.0.0.1:{free_port()}"
    settings = make_settings(kafka_bootstrap_servers=down)
    engine = make_engine(settings.database_url)
    async with httpx.AsyncClient() as http:
        app = create_app(settings, engine, http=http)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client:
            response = await client.get("/readyz")
    await engine.dispose()
    assert response.status_code == 503
    assert response.json()["checks"] == {"kafka": "unreachable", "database": "ok"}

    settings = make_settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    engine = make_engine(settings.database_url)
    async with httpx.AsyncClient() as http:
        app = create_app(settings, engine, http=http)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client:
            response = await client.get("/readyz")
    await engine.dispose()
    assert response.status_code == 503
    assert response.json()["checks"] == {"kafka": "ok", "database": "unreachable"}


async def test_cli_migrates_runs_delivers_and_stops_on_sigterm(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, topics: dict[str, str]
) -> None:
    settings = make_settings()
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "ALERTROUTER_API_TOKENS": settings.api_tokens,
        "NOTIFIER_HOST": "127.0.0.1",
        "NOTIFIER_PORT": str(port),
        "NOTIFIER_CONSUMER_GROUP": settings.consumer_group,
        "NOTIFIER_WEBHOOK_SIGNING_SECRET": settings.webhook_signing_secret.get_secret_value(),
        "KAFKA_CREATE_TOPICS": "false",
        **{f"NOTIFIER_{key.upper()}": value for key, value in topics.items()},
    }
    migrate = await asyncio.create_subprocess_exec(sys.executable, "-m", "alertrouter_notifier", "migrate", env=env)
    assert await migrate.wait() == 0
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version_notifier"))).scalar_one()
    await engine.dispose()
    head = ScriptDirectory.from_config(MIGRATIONS.alembic_config(settings.database_url)).get_current_head()
    assert version == head

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertrouter_notifier", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout=30, what="the notifier process to be ready")
            page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
            await asyncio.to_thread(capture.wait_for, 1, 20)

            async def recorded() -> bool:
                response = await client.get(
                    "/v1/deliveries", params={"page": page.page_id}, headers={"Authorization": f"Bearer {READ_TOKEN}"}
                )
                return bool(response.json()["items"]) and response.json()["items"][0]["status"] == "sent"

            await eventually(recorded, what="the delivery recorded by the process")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
