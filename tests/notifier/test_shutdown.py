"""Stopping the notifier with a page in the middle of its send: the stop waits for the provider's answer, records
the outcome and publishes it, so the page is neither sent again once its lease runs out nor left unknown to the
router. On real Kafka and PostgreSQL, with a receiver that holds its answer until the test lets it go."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from alertrouter_notifier.db.tables import attempt, delivery
from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType, DeliveryResult, DeliveryStatus, Page
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import produce_pages
from tests.providers.servers import Reply, TwilioServer, load_fixture

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class HeldAnswers:
    """A receiver that gives its answer (200 unless told) only once released: the send is in progress until then."""

    def __init__(self, answer: bytes = OK) -> None:
        self.answer = answer
        self.received = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the answer does not depend on the body
        self.received.set()
        await self.release.wait()
        writer.write(self.answer)
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


async def _consumer_stopped(notifier: Notifier) -> None:
    loop = notifier.consumer_loop
    assert loop is not None

    async def stopped() -> bool:
        return not loop.running

    await eventually(stopped, what="the consumer stopped")


async def _ledger(settings: NotifierSettings, page: Page) -> tuple[str, list[tuple[str, str, str | None]]]:
    """The page's delivery status and its attempts (status, provider, code), read with nothing running that could
    send it meanwhile (a started notifier's retry worker would)."""
    engine = make_engine(settings.database_url, 1)
    try:
        async with engine.connect() as conn:
            status = await conn.scalar(select(delivery.c.status).where(delivery.c.page_id == page.page_id))
            rows = await conn.execute(
                select(attempt.c.status, attempt.c.provider, attempt.c.provider_status_code)
                .join(delivery, delivery.c.id == attempt.c.delivery_id)
                .where(delivery.c.page_id == page.page_id)
                .order_by(attempt.c.attempt)
            )
            attempts = [(row.status, row.provider, row.provider_status_code) for row in rows]
    finally:
        await engine.dispose()
    return str(status), attempts


async def _recorded_and_published(settings: NotifierSettings, page: Page, reader: TopicReader) -> None:
    """The send's outcome is in the ledger and its result on the deliveries topic."""
    assert await _ledger(settings, page) == ("sent", [("sent", "webhook", "200")])

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
        await _consumer_stopped(notifier)
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


SECONDARY_SID = "ACsecondary00000000000000000000000"


@pytest.fixture
def secondary() -> Iterator[TwilioServer]:
    with TwilioServer(account_sid=SECONDARY_SID, auth_token="secondary-token") as server:
        yield server


def _twilio_refusal(code: int) -> bytes:
    body = json.dumps(load_fixture(f"twilio/error-{code}.json")).encode()
    head = f"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def test_stop_waits_for_a_failover_send_that_starts_during_the_drain(
    make_settings: SettingsFactory, make_page: PageFactory, secondary: TwilioServer
) -> None:
    """The primary refuses our credentials once the notifier is stopping: the page fails over to the secondary at
    once, in a send that starts after the drain began. The drain waited only for the sends in progress when it
    began: the stop went on to close the HTTP client and the database under the secondary's send."""
    held = HeldAnswers(_twilio_refusal(20003))
    primary = await asyncio.start_server(held.handle, "127.0.0.1", 0)
    # answering later than the rest of the stop takes (the producer's stop, mostly)
    secondary.script(Reply(201, load_fixture("twilio/message-created.json"), delay=2.0))
    settings = make_settings(
        http_timeout_seconds=5.0,
        twilio_base_url=f"http://127.0.0.1:{primary.sockets[0].getsockname()[1]}",
        sms_secondary_base_url=secondary.url,
        sms_secondary_account_sid=SECONDARY_SID,
        sms_secondary_auth_token="secondary-token",
        sms_secondary_from="+12015550199",
    )
    page = make_page(ContactMethodType.SMS, "+12015550142")
    async with primary:
        notifier = await _sending(settings, page, held)
        stopping = asyncio.create_task(notifier.stop())
        await _consumer_stopped(notifier)  # the stop has reached the drain of the sends in progress
        held.release.set()
        await asyncio.wait_for(stopping, 30)
    # nothing still sending once the stop returned (a process exits then: a send still running would be cut off)
    assert notifier.dispatcher.in_flight == 0
    assert len(secondary.requests) == 1
    assert await _ledger(settings, page) == (
        "sent",
        [("retrying", "twilio", "20003"), ("sent", "sms-secondary", "201")],
    )
