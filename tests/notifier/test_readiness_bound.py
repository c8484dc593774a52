"""/readyz answers within READINESS_SECONDS whatever its dependencies do, so the kubelet's probe (the Helm chart's
timeoutSeconds, above that bound) sees a 503 rather than a timeout: a database that accepts connections and never
answers used to hold the check for asyncpg's 60 s connect timeout, and the checks ran one after the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from alertrouter_notifier.api.app import create_app
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.database import make_engine
from alertrouter_shared.web.readiness import READINESS_SECONDS


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word (a hung PostgreSQL or broker)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_readiness_answers_within_its_bound_when_everything_hangs(silent_server: int) -> None:
    url = f"postgresql+asyncpg://alertrouter@127.0.0.1:{silent_server}/alertrouter"
    settings = NotifierSettings(database_url=url, kafka_bootstrap_servers=f"127.0.0.1:{silent_server}")
    engine = make_engine(settings.database_url)

    async def kafka_never_answers() -> bool:
        await asyncio.Event().wait()
        return True

    try:
        async with httpx.AsyncClient() as http:
            app = create_app(settings, engine, http=http, kafka_probe=kafka_never_answers)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://n") as client:
                started = time.monotonic()
                response = await asyncio.wait_for(client.get("/readyz"), READINESS_SECONDS * 3)
                took = time.monotonic() - started
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.json()["checks"] == {"kafka": "unreachable", "database": "unreachable"}
    assert took < READINESS_SECONDS + 1.0, f"readiness took {took:.1f} s: the checks must run at once, bounded"
