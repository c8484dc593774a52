"""A page the database cannot take now is retried, not dead-lettered: on real Kafka and PostgreSQL.

A batch whose admission fails for a reason other than an outage is admitted one page at a time, and the pages
that fail are dead-lettered, their offsets committed. A server that refuses every write for a while (a standby
reached during a failover, answering ``read_only_sql_transaction``) was taken for such a reason: every page of the
failover went to the dead-letter topic, and nobody was paged. A trigger of the test's database answers as a standby
does, then is dropped, as the failover ends.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, final_delivery, produce_pages, refusing
from tests.providers.servers import CaptureServer


async def _retried(settings: NotifierSettings) -> bool:
    """The admission failed as transient at least twice: the consumer loop retried the batch."""
    labels = {"group": settings.consumer_group, "kind": "transient"}
    return (REGISTRY.get_sample_value("alertrouter_consumer_failures_total", labels) or 0) >= 2


async def test_pages_met_by_a_read_only_server_are_admitted_once_it_takes_writes_again(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, unique: str
) -> None:
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    engine = make_engine(settings.database_url)
    dead_letters = await TopicReader(settings.kafka_bootstrap_servers, settings.pages_dlq_topic).start()

    read_only = refusing(engine, f"read_only_{unique}", "notifier_delivery", "25006", f"NEW.page_id = '{page.page_id}'")
    try:
        async with Notifier(settings) as notifier, api_client(notifier) as client:
            async with read_only:  # until the failover ends
                await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
                await eventually(
                    lambda: _retried(settings), timeout=30, what="the admission retried while the server refuses writes"
                )
            delivery = await final_delivery(client, page.page_id, timeout=60)
    finally:
        await dead_letters.stop()
        await engine.dispose()
    assert delivery["status"] == "sent"
    assert [p["page"]["page_id"] for p in capture.pages()] == [page.page_id]
    assert not [v for v in dead_letters.values if page.page_id.encode() in v]


async def test_an_undecodable_page_is_dead_lettered_once_however_often_its_batch_is_retried(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, unique: str
) -> None:
    """It was dead-lettered before the batch's pages were admitted: once per attempt while the server refused
    writes, each copy one more for an operator to replay."""
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    poison = f'{{"schema_version": 99, "page_id": "{unique}"}}'.encode()
    engine = make_engine(settings.database_url)
    dead_letters = await TopicReader(settings.kafka_bootstrap_servers, settings.pages_dlq_topic).start()

    read_only = refusing(engine, f"read_only_{unique}", "notifier_delivery", "25006", f"NEW.page_id = '{page.page_id}'")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        async with Notifier(settings) as notifier, api_client(notifier) as client:
            async with read_only:
                for value in (poison, page.model_dump_json().encode()):  # one key, one request: one batch
                    await producer.send(settings.pages_topic, value, key=page.incident_id.encode())
                await producer.flush()
                await eventually(
                    lambda: _retried(settings), timeout=30, what="the batch retried while the server refuses writes"
                )
            delivery = await final_delivery(client, page.page_id, timeout=60)

            async def kept() -> list[bytes] | None:
                return [value for value in dead_letters.values if value == poison] or None

            await eventually(kept, what="the undecodable page in the dead-letter topic")
            await asyncio.sleep(2)  # a second copy, if any, would be there by now
    finally:
        await producer.stop()
        await dead_letters.stop()
        await engine.dispose()
    assert delivery["status"] == "sent"
    assert len([value for value in dead_letters.values if value == poison]) == 1
