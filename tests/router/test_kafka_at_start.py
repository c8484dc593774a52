"""A router started while Kafka is away keeps running: it serves /healthz, answers /readyz with 503, retries, and
becomes ready once a broker answers. It used to exit 1 after a few seconds, and a pod restarted during a Kafka outage
crash-looped with a growing back-off."""

from __future__ import annotations

import asyncio

import httpx
import structlog.testing

from alertrouter_router.runtime import RouterRuntime
from tests.helpers import LateBroker, eventually
from tests.router.conftest import router_settings


async def test_the_router_waits_for_kafka_and_becomes_ready_when_it_arrives(
    kafka_bootstrap: str, router_database_url: str
) -> None:
    broker = LateBroker(kafka_bootstrap)
    settings = router_settings(broker.address, router_database_url, kafka_create_topics=True)
    runtime = RouterRuntime(settings, consume=False)
    with structlog.testing.capture_logs() as logs:
        starting = asyncio.create_task(runtime.start())
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}", timeout=10) as client:

                async def serving() -> bool:
                    try:
                        return (await client.get("/healthz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await eventually(serving, what="/healthz while Kafka is away")

                async def retried_twice() -> bool:
                    return len([line for line in logs if line["event"] == "kafka_unavailable_at_start"]) >= 2

                await eventually(retried_twice, what="start-up retries")
                assert not starting.done(), "start gave up while Kafka was away"
                away = await client.get("/readyz")
                assert away.status_code == 503 and away.json()["checks"]["kafka"] is False

                await broker.arrive()
                await asyncio.wait_for(starting, 30)

                async def ready() -> bool:
                    return (await client.get("/readyz")).status_code == 200

                await eventually(ready, what="/readyz once the broker answers")
        finally:
            runtime.stop()
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await asyncio.wait_for(runtime.wait(), 30)
            await broker.close()
    assert any(line["event"] == "kafka_connected_at_start" for line in logs)
