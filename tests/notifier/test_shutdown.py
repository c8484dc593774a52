"""Stopping the notifier with a page in the middle of its send: the stop waits for the provider's answer, records
the outcome and publishes it, so the page is neither sent again once its lease runs out nor left unknown to the
router. On real Kafka and PostgreSQL, with a receiver that holds its answer until the test lets it go."""

from __future__ import annotations

import asyncio

import pytest

from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.events import ContactMethodType, DeliveryResult, DeliveryStatus, Page
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, deliveries_for, produce_pages


class HeldAnswers:
    """A webhook receiver that answers 200 only once released: the send stays in progress until then."""

    def __init__(self) -> None:
        self.received = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the answer does not depend on the body
        self.received.set()
        await self.release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()


async def _sending(settings: NotifierSettings, page: Page, held: HeldAnswers) -> Notifier:
    """A started notifier whose send of ``page`` has reached the receiver and waits for its answer."""
    notifier = Notifier(settings)
    await notifier.start()
    try:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        await asyncio.wait_for(held.received.wait(), 30)
    except BaseException:
        await notifier.stop()
        raise
    return notifier


async def _recorded_and_published(settings: NotifierSettings, page: Page, reader: TopicReader) -> None:
    """The send's outcome is in the ledger and its result on the deliveries topic."""
    async with Notifier(settings, consume=False) as after, api_client(after) as client:
        (delivery,) = await deliveries_for(client, page=page.page_id)
    assert delivery["status"] == "sent", delivery
    assert [a["status"] for a in delivery["attempts"]] == ["sent"]

    async def published() -> list[DeliveryResult] | None:
        results = [DeliveryResult.model_validate_json(v) for v in reader.values]
        return [r for r in results if r.page_id == page.page_id] or None

    (result,) = await eventually(published, what="the send's result on the deliveries topic")
    assert result.status is DeliveryStatus.SENT


@pytest.fixture
async def held() -> HeldAnswers:
    return HeldAnswers()


async def test_stop_waits_for_a_send_in_progress_and_records_its_outcome(
    make_settings: SettingsFactory, make_page: PageFactory, deliveries_reader: TopicReader, held: HeldAnswers
) -> None:
    server = await asyncio.start_server(held.handle, "127.0.0.1", 0)
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook")
    async with server:
        notifier = await _sending(settings, page, held)
        stopping = asyncio.create_task(notifier.stop())
        loop = notifier.consumer_loop
        assert loop is not None

        async def consumer_stopped() -> bool:
            return not loop.running

        await eventually(consumer_stopped, what="the consumer stopped")
        assert not stopping.done(), "the stop must wait for the send in progress"
        held.release.set()
        await asyncio.wait_for(stopping, 30)
    await _recorded_and_published(settings, page, deliveries_reader)


async def test_a_worker_that_ended_cancelled_does_not_cut_the_stop_short(
    make_settings: SettingsFactory, make_page: PageFactory, deliveries_reader: TopicReader, held: HeldAnswers
) -> None:
    """The stop awaited each worker and let its outcome through: a consumer that had ended cancelled (as aiokafka's
    own stop could make it) raised CancelledError out of the stop, before the sends in progress were drained."""
    server = await asyncio.start_server(held.handle, "127.0.0.1", 0)
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook")
    async with server:
        notifier = await _sending(settings, page, held)
        (consumer,) = [t for t in asyncio.all_tasks() if t.get_name() == "notifier-consumer"]
        consumer.cancel()  # fault injection: the worker ends cancelled, not by the stop
        await asyncio.wait({consumer})
        stopping = asyncio.create_task(notifier.stop())
        held.release.set()
        await asyncio.wait_for(stopping, 30)  # raised CancelledError before
    await _recorded_and_published(settings, page, deliveries_reader)
