"""The router, in-process, on the session's real Kafka broker and PostgreSQL, with a clock tests can advance."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from kafka_offsets import skip_alert_backlog

from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.runtime import RouterRuntime
from alertrouter_router.settings import RouterSettings
from alertrouter_shared.auth import hash_token
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, Page, PageKind
from alertrouter_shared.topics import ALERTS, PAGES
from tests.helpers import TopicReader, eventually, free_port

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "router" / "ownership.yaml"
# A service added to CONFIG's payments team by the configuration-change tests (a file of its own).
BILLING_SERVICE = """\
services:
  - id: billing
    name: Billing
    owner_team: payments
    escalation_policy: payments-default
route_rules:
  - id: billing-component
    service: billing
    match: [{label: component, op: "=", value: billing-api}]
"""
TOKEN = "router-test-token"
READ_ONLY_TOKEN = "router-read-only"


@pytest.fixture(scope="session")
def router_database_url(database_url: str) -> str:
    upgrade_to_head(database_url, wait=30)
    return database_url


CLOCK = OffsetClock()


@pytest.fixture(scope="session")
def router_clock() -> OffsetClock:
    """The router's clock; events from ``alert_event`` are stamped with it, so advancing it never makes them stale."""
    return CLOCK


def router_settings(kafka: str, db: str, **overrides: object) -> RouterSettings:
    values: dict[str, object] = {
        "kafka_bootstrap_servers": kafka,
        "database_url": db,
        "config_path": str(CONFIG),
        "host": "127.0.0.1",
        "port": free_port(),
        "consumer_group": f"router-test-{uuid.uuid4().hex[:6]}",
        "api_tokens": f"{hash_token(TOKEN)}:read+write,{hash_token(READ_ONLY_TOKEN)}:read",
        "escalation_poll_seconds": 0.2,
        "outbox_poll_seconds": 0.2,
        "kafka_create_topics": False,
    }
    values.update(overrides)
    return RouterSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def router(
    kafka_bootstrap: str, router_database_url: str, router_clock: OffsetClock
) -> AsyncIterator[RouterRuntime]:
    settings = router_settings(kafka_bootstrap, router_database_url)
    await skip_earlier_alerts(kafka_bootstrap, settings.consumer_group)
    runtime = RouterRuntime(settings, clock=router_clock)
    await runtime.start()
    yield runtime
    runtime.stop()
    await asyncio.wait_for(runtime.wait(), 30)


async def skip_earlier_alerts(bootstrap: str, group: str) -> None:
    """Start the router suite's consumer group at the end of the alerts topic: the thousands of events other
    suites (ingest's property tests) produced earlier are not this suite's load, and would page and escalate
    ahead of its own alerts on a shared test clock."""
    skipped = await skip_alert_backlog(bootstrap, group)
    print(f"router suite: skipped {skipped} earlier alert records", flush=True)


@pytest.fixture(scope="session")
async def api(router: RouterRuntime) -> AsyncIterator[httpx.AsyncClient]:
    base = f"http://127.0.0.1:{router.state.settings.port}"
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await p.start()
    yield p
    await p.stop()


@pytest.fixture(scope="session")
async def pages(kafka_bootstrap: str) -> AsyncIterator[TopicReader]:
    reader = await TopicReader(kafka_bootstrap, PAGES).start()
    yield reader
    await reader.stop()


def alert_event(
    key: str,
    labels: dict[str, str],
    action: AlertAction = AlertAction.TRIGGER,
    occurred_at: datetime | None = None,
    received_at: datetime | None = None,
    **details: object,
) -> AlertEvent:
    now = CLOCK.now()
    return AlertEvent(
        source=AlertSource.ALERTMANAGER,
        integration_id="test-am",
        action=action,
        dedup_key=key,
        summary=f"{labels.get('alertname', 'Alert')} on {labels.get('service', '?')}",
        labels=labels,
        details=dict(details),
        occurred_at=occurred_at or now,
        received_at=received_at or now,
    )


async def send(producer: AIOKafkaProducer, event: AlertEvent) -> None:
    await producer.send_and_wait(ALERTS, event.model_dump_json().encode(), key=event.dedup_key.encode())


def pages_for(reader: TopicReader, dedup_key: str) -> list[Page]:
    found = [Page.model_validate_json(v) for v in reader.values]
    return [p for p in found if p.dedup_key == dedup_key]


async def paged(reader: TopicReader, dedup_key: str, count: int = 1, *, level: int | None = None) -> bool:
    """At least ``count`` trigger pages for the key (at ``level`` when given): a probe for ``eventually``."""
    triggers = [
        p
        for p in pages_for(reader, dedup_key)
        if p.kind is PageKind.TRIGGER and (level is None or p.escalation_level == level)
    ]
    return len(triggers) >= count


async def decisions_for(api: httpx.AsyncClient, key: str, count: int) -> list[dict[str, Any]]:
    """The key's decisions, oldest first, once there are at least ``count``."""

    async def probe() -> list[dict[str, Any]] | None:
        response = await api.get("/v1/decisions", params={"dedup_key": key})
        items = response.json()["items"]
        return items if len(items) >= count else None

    items = await eventually(probe, what=f"{count} decision(s) for {key}")
    return list(reversed(items))
