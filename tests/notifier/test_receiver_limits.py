"""Receivers that misbehave cannot hold the notifier: real Kafka, PostgreSQL and sockets.

- An answer a byte at a time: each read arrives within the HTTP timeout, so no httpx timeout fires; the policy's
  attempt timeout (four times the provider timeout) ends the attempt as a transient failure, the send slot frees,
  and the page is retried rather than left running past its lease.
- An answer of many megabytes (a webhook URL that serves a file): only its first megabyte is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType
from tests.helpers import eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, deliveries_for, final_delivery, produce_pages
from tests.providers.servers import CaptureServer

HTTP_TIMEOUT = 0.5  # attempts end within 4 x 0.5 = 2 s
DRIP_EVERY = 0.2  # each byte well within the read timeout
LARGE_ANSWER = 64 * 1024 * 1024


async def _answer_byte_by_byte(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while not writer.is_closing():
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(DRIP_EVERY)  # the receiver's pace, not a wait for the system under test
    writer.close()


async def test_a_receiver_answering_byte_by_byte_ends_the_attempt_and_frees_the_send_slot(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    server = await asyncio.start_server(_answer_byte_by_byte, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # one send slot: the page behind the dripping one goes out only if the slot frees
    # a retry deadline that lets the page fail for good within the test: nothing is left retrying for later tests
    settings = make_settings(
        max_concurrent_sends=1, http_timeout_seconds=HTTP_TIMEOUT, smtp_timeout_seconds=0.1, retry_deadline_seconds=3
    )
    dripping = make_page(ContactMethodType.WEBHOOK, f"http://127.0.0.1:{port}/hook")
    behind = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    async with server, Notifier(settings) as notifier, api_client(notifier) as client:
        started = time.monotonic()
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [dripping, behind])

        async def first_attempt_ended() -> dict[str, Any] | None:
            items = await deliveries_for(client, page=dripping.page_id)
            return items[0]["attempts"][0] if items and items[0]["attempts"] else None

        attempt = await eventually(first_attempt_ended, timeout=15, what="the dripping receiver's first attempt")
        assert time.monotonic() - started < 10  # without the bound: 100,000 bytes at 5 a second
        assert attempt["status"] == "retrying"
        assert attempt["provider_status_code"] == "timeout"
        assert attempt["error"] == "webhook: no complete answer within 2 s"
        assert (await final_delivery(client, behind.page_id))["status"] == "sent"
        gave_up = await final_delivery(client, dripping.page_id)
        assert gave_up["status"] == "failed"
        assert all(a["error"].endswith("webhook: no complete answer within 2 s") for a in gave_up["attempts"])
    assert [p["page"]["page_id"] for p in capture.pages()] == [behind.page_id]


@dataclass
class LargeAnswers:
    requests: int = 0
    answered_whole: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunk = b"x" * 65536
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % LARGE_ANSWER)
            for _ in range(LARGE_ANSWER // len(chunk)):
                writer.write(chunk)
                await writer.drain()
            self.answered_whole += 1
        writer.close()


async def test_a_large_answer_is_read_only_to_its_first_megabyte(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    answers = LargeAnswers()
    server = await asyncio.start_server(answers.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = make_settings(http_timeout_seconds=5.0)
    page = make_page(ContactMethodType.WEBHOOK, f"http://127.0.0.1:{port}/file.iso")
    async with server, Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        delivery = await final_delivery(client, page.page_id)
    assert delivery["status"] == "sent"  # a 2xx status is the receiver's acceptance, whatever follows it
    assert answers.requests == 1
    assert answers.answered_whole == 0  # the notifier closed the connection after the first megabyte
