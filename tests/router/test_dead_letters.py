"""What the router sets aside is kept and counted: an undecodable delivery result (a notifier of another version,
a bad producer) was logged and dropped, and no dead letter of any consumer was counted anywhere, so the alert
AlertrouterRecordsDeadLettered could not exist: an alert the router never routed showed only in a log line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.events import ContactMethodType, DeliveryResult, DeliveryStatus
from alertrouter_shared.topics import DELIVERIES, DELIVERIES_DLQ
from tests.helpers import TopicReader, eventually

DEAD_LETTERED = "alertrouter_records_dead_lettered_total"


def dead_lettered(topic: str) -> float:
    return REGISTRY.get_sample_value(DEAD_LETTERED, {"topic": topic}) or 0.0


async def test_an_undecodable_delivery_result_is_dead_lettered_and_counted(
    router: RouterRuntime, producer: AIOKafkaProducer, kafka_bootstrap: str, unique: str
) -> None:
    before = dead_lettered(DELIVERIES_DLQ)
    poison = f'{{"schema_version": 99, "delivery_id": "{unique}"}}'.encode()
    dead_letters = await TopicReader(kafka_bootstrap, DELIVERIES_DLQ).start()
    try:
        await producer.send_and_wait(DELIVERIES, poison, key=unique.encode())

        async def kept() -> list[bytes] | None:
            return [value for value in dead_letters.values if value == poison] or None

        await eventually(kept, what="the undecodable delivery result in the dead-letter topic")
    finally:
        await dead_letters.stop()
    assert dead_lettered(DELIVERIES_DLQ) >= before + 1


async def test_a_delivery_result_the_database_refuses_is_set_aside_and_the_next_one_is_stored(
    router: RouterRuntime, producer: AIOKafkaProducer, kafka_bootstrap: str, unique: str
) -> None:
    """A NUL in a result (jsonb refuses ``\\u0000``) failed its batch again and again: every later result of the
    partition, and the escalations they would cause, waited behind it."""
    incident_id = str(uuid.uuid4())

    def result(delivery: str, error: str) -> bytes:
        return (
            DeliveryResult(
                delivery_id=f"{unique}-{delivery}",
                page_id=f"{incident_id}:0:1:alice:alice-hook",
                incident_id=incident_id,
                channel=ContactMethodType.WEBHOOK,
                destination_masked="hook",
                status=DeliveryStatus.RETRYING,
                error=error,
                at=datetime.now(UTC),
            )
            .model_dump_json()
            .encode()
        )

    poison, good = result("poison", "refused\x00by the receiver"), result("good", "HTTP 503")
    dead_letters = await TopicReader(kafka_bootstrap, DELIVERIES_DLQ).start()
    try:
        for value in (poison, good):  # one key: one partition, the poison first
            await producer.send(DELIVERIES, value, key=incident_id.encode())
        await producer.flush()

        async def stored() -> list[str] | None:
            async with router.state.pool.acquire() as conn:
                rows = await conn.fetch("SELECT ref FROM router_timeline WHERE incident_id = $1", incident_id)
            return [row["ref"] for row in rows] or None

        assert await eventually(stored, what="the result after the refused one in the timeline") == [
            f"{unique}-good:1:retrying"
        ]

        async def kept() -> list[dict[str, bytes]] | None:
            found = zip(dead_letters.values, dead_letters.headers, strict=True)
            return [headers for value, headers in found if value == poison] or None

        headers = (await eventually(kept, what="the refused result in the dead-letter topic"))[0]
        assert b"could not be stored" in headers["error"]
    finally:
        await dead_letters.stop()
