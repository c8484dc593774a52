"""An undecodable record is dead-lettered once, however often the consumer loop retries its batch: each of the
router's consumers (alerts, delivery results, changes) dead-lettered it before storing the rest, so each
transient failure of the store (the database restarting, a lock timeout) put another copy in the dead-letter
topic, and an operator replaying them replayed it as often.

The failure is real: a transaction holds the table the batch writes in SHARE mode, so the write waits; the
waiting statement is cancelled (``pg_cancel_backend``: query_canceled, which the loop retries), the retry waits
in its turn, then the lock is released and the retry stores the batch."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.events import ChangeEvent, ContactMethodType, DeliveryResult, DeliveryStatus
from alertrouter_shared.topics import ALERTS, ALERTS_DLQ, CHANGES, CHANGES_DLQ, DELIVERIES, DELIVERIES_DLQ
from tests.helpers import TopicReader, eventually
from tests.router.conftest import alert_event, decisions_for

WAITING_WRITE = (
    "SELECT pid, query_start FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND wait_event_type = 'Lock' AND wait_event = 'relation' AND query LIKE '%INSERT INTO router_%'"
)  # the text is cut short in pg_stat_activity: the alert batch's writes are one long statement
Statement = tuple[int, object]


@dataclass
class Consumer:
    topic: str
    dead_letters: str
    table: str
    good: Callable[[str], bytes]  # a valid record for the key
    stored: Callable[[RouterRuntime, httpx.AsyncClient, str], Awaitable[object]]  # waits until it is stored


def _alert(key: str) -> bytes:
    return alert_event(key, {"service": f"nosuch-{key}", "alertname": "Once"}).model_dump_json().encode()


def _result(key: str) -> bytes:
    now = datetime.now(UTC)
    result = DeliveryResult(
        delivery_id=key,
        page_id=f"{key}:0:1:alice:alice-hook",
        incident_id=key,
        channel=ContactMethodType.WEBHOOK,
        destination_masked="hook",
        status=DeliveryStatus.RETRYING,
        error="HTTP 503",
        at=now,
    )
    return result.model_dump_json().encode()


def _change(key: str) -> bytes:
    now = datetime.now(UTC)
    change = ChangeEvent(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, key), integration_id="test", service_id=key, summary="deploy",
        occurred_at=now, received_at=now,
    )  # fmt: skip
    return change.model_dump_json().encode()


async def _row(router: RouterRuntime, sql: str, key: str) -> None:
    async def found() -> bool:
        async with router.state.pool.acquire() as conn:
            return bool(await conn.fetchval(sql, key))

    await eventually(found, what="the valid record of the batch stored")


CONSUMERS = {
    "alerts": Consumer(ALERTS, ALERTS_DLQ, "router_decision", _alert, lambda _, api, key: decisions_for(api, key, 1)),
    "delivery results": Consumer(
        DELIVERIES,
        DELIVERIES_DLQ,
        "router_timeline",
        _result,
        lambda router, _, key: _row(router, "SELECT count(*) FROM router_timeline WHERE incident_id = $1", key),
    ),
    "changes": Consumer(
        CHANGES,
        CHANGES_DLQ,
        "router_change_event",
        _change,
        lambda router, _, key: _row(router, "SELECT count(*) FROM router_change_event WHERE service_id = $1", key),
    ),
}


@pytest.mark.parametrize("consumer", CONSUMERS.values(), ids=CONSUMERS.keys())
async def test_an_undecodable_record_is_dead_lettered_once_across_a_transient_retry(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    unique: str,
    consumer: Consumer,
) -> None:
    key = f"once-{unique}"
    poison = f'{{"schema_version": 99, "key": "{key}"}}'.encode()
    holder = await asyncpg.connect(**connect_arguments(router.state.settings.database_url))
    dead_letters = await TopicReader(kafka_bootstrap, consumer.dead_letters).start()
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute(f"LOCK TABLE {consumer.table} IN SHARE MODE")  # the batch's write waits
        for value in (poison, consumer.good(key)):  # one key, one produce request: one batch
            await producer.send(consumer.topic, value, key=key.encode())
        await producer.flush()

        async def waiting(besides: frozenset[Statement] = frozenset()) -> list[Statement] | None:
            async with router.state.pool.acquire() as conn:  # outside a transaction: pg_stat_activity is read anew
                found = [(row["pid"], row["query_start"]) for row in await conn.fetch(WAITING_WRITE)]
            return [statement for statement in found if statement not in besides] or None

        cancelled = await eventually(waiting, timeout=20, interval=0.05, what="the batch's write waiting")
        for pid, _ in cancelled:
            await holder.execute("SELECT pg_cancel_backend($1)", pid)  # query_canceled: transient, retried
        await eventually(  # the retry of the batch, waiting in its turn
            lambda: waiting(frozenset(cancelled)), timeout=20, interval=0.05, what="the retried write waiting"
        )
        await transaction.rollback()
        await consumer.stored(router, api, key)

        async def kept() -> list[bytes] | None:
            return [value for value in dead_letters.values if value == poison] or None

        await eventually(kept, what="the undecodable record in the dead-letter topic")
        await asyncio.sleep(2)  # a second copy, if any, would be there by now
        assert len([value for value in dead_letters.values if value == poison]) == 1
    finally:
        await dead_letters.stop()
        await holder.close()
