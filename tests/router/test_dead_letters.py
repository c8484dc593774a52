"""What the router sets aside is kept and counted: an undecodable delivery result (a notifier of another version,
a bad producer) was logged and dropped, and no dead letter of any consumer was counted anywhere, so the alert
AlertrouterRecordsDeadLettered could not exist: an alert the router never routed showed only in a log line."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from alertrouter_router.runtime import RouterRuntime
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
