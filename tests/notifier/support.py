"""Helpers for the notifier tests: shared constants, producing pages, calling the API in-process."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.db.claims import claim_due
from alertrouter_notifier.db.connections import autocommit
from alertrouter_notifier.db.ledger import ClaimedDelivery, insert_deliveries, new_delivery_row
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.publisher import ResultPublisher
from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.clock import SystemClock
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import Page
from alertrouter_shared.kafka import make_producer
from tests.helpers import eventually

READ_TOKEN = "notifier-test-read"
WRITE_ONLY_TOKEN = "notifier-test-write-only"
WEBHOOK_SECRET = "whsec-notifier-test"
ACK_SECRET = "ack-secret-notifier-test"
TWILIO_SID = "ACf0e1d2c3b4a5968778695a4b3c2d1e0f"
TWILIO_TOKEN = "twilio-test-token"
SLACK_TOKEN = "xoxb-test-token"
STATUS_URL = "http://notifier.test/v1/twilio/status"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


async def produce_pages(bootstrap: str, topic: str, pages: list[Page] | list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for item in pages:
            if isinstance(item, Page):
                await producer.send_and_wait(topic, item.model_dump_json().encode(), key=item.incident_id.encode())
            else:
                await producer.send_and_wait(topic, item, key=b"garbage")
    finally:
        await producer.stop()


def api_client(notifier: Notifier) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=notifier.create_app())
    return httpx.AsyncClient(transport=transport, base_url="http://notifier.test")


def auth(token: str = READ_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def past(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


FINAL = {"sent", "delivered", "undelivered", "failed", "expired", "throttled", "cancelled"}


async def final_delivery(client: httpx.AsyncClient, page_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """The delivery record of ``page_id`` once it reached a final state (polled with a deadline)."""

    async def probe() -> dict[str, Any] | None:
        response = await client.get("/v1/deliveries", params={"page": page_id}, headers=auth())
        items = response.json()["items"]
        return items[0] if items and items[0]["status"] in FINAL else None

    return await eventually(probe, timeout=timeout, what=f"a final delivery status for {page_id}")


async def delivered_alone(settings: NotifierSettings, page: Page) -> dict[str, Any]:
    """``page`` handed to a notifier of its own, and its delivery record once final."""
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        return await final_delivery(client, page.page_id)


async def deliveries_for(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/deliveries", params={"limit": 1000, **params}, headers=auth())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def deliveries_counted(channel: str, outcome: str) -> float:
    """``alertrouter_notifier_deliveries_total`` of this process (the notifiers of the tests run in it): compare
    before and after."""
    value = REGISTRY.get_sample_value("alertrouter_notifier_deliveries_total", {"channel": channel, "outcome": outcome})
    return value or 0.0


def undelivered_callback(message_sid: str) -> dict[str, str]:
    """Twilio's status callback (the fixture's fields) saying the message was not delivered (30003)."""
    fields: dict[str, str] = json.loads((FIXTURES / "twilio" / "status-callback-undelivered.form.json").read_text())
    fields.pop("_comment")
    return {**fields, "MessageSid": message_sid, "SmsSid": message_sid}


async def status_callback(client: httpx.AsyncClient, fields: dict[str, str], signature: str) -> httpx.Response:
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    return await client.post(STATUS_URL, data=fields, headers=headers)


@contextlib.asynccontextmanager
async def result_publisher(
    settings: NotifierSettings, topic: str, publish_timeout: float = 30.0
) -> AsyncIterator[tuple[AsyncEngine, ResultPublisher]]:
    """A publisher to ``topic`` on the test database; closed afterwards (what it still holds is the sweep's)."""
    engine = make_engine(settings.database_url, pool_size=2)
    producer = make_producer(settings)
    await producer.start()
    publisher = ResultPublisher(engine, producer, SystemClock(), publish_timeout, topic)
    try:
        yield engine, publisher
    finally:
        await publisher.close()
        await producer.stop()
        await engine.dispose()


async def claimed_deliveries(
    engine: AsyncEngine, settings: NotifierSettings, pages: list[Page], now: datetime
) -> list[ClaimedDelivery]:
    """The pages admitted as deliveries and claimed for sending, in their order."""
    policy = DeliveryPolicy.from_settings(settings)
    async with autocommit(engine) as conn:
        new = await insert_deliveries(conn, [(p, new_delivery_row(p, now, policy)) for p in pages], now)
        ids = [item.id for item in new]
        claims = {c.id: c for c in await claim_due(conn, now, now + timedelta(seconds=60), 10, ids)}
    return [claims[delivery_id] for delivery_id in ids]


@contextlib.asynccontextmanager
async def refusing(
    engine: AsyncEngine, name: str, table: str, sqlstate: str, when: str = "true"
) -> AsyncIterator[None]:
    """While open, the test's database refuses inserts into ``table`` (those ``when`` matches) with ``sqlstate``, as
    a server in that state would: failures no page of ours meets on its own, made to order. ``name`` is unique."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"RAISE EXCEPTION 'refused by the test ({sqlstate})' USING ERRCODE = '{sqlstate}'; END $$"
            )
        )
        await conn.execute(
            text(
                f"CREATE OR REPLACE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when}) "
                f"EXECUTE FUNCTION {name}()"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            await conn.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))
