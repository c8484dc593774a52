"""Delivery semantics on real Kafka and PostgreSQL: idempotency, crashes at each step, restarts, expiry, DLQ.

To know that a redelivered record has been handled (not merely not yet handled), each test follows it with a
sentinel page of the same incident: same key, same partition, handled strictly after it.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from prometheus_client import REGISTRY
from sqlalchemy import text

from alertrouter_notifier.channels.base import Outgoing
from alertrouter_notifier.channels.webhook import WebhookProvider
from alertrouter_notifier.db.claims import claim_due
from alertrouter_notifier.intake import admit_pages, one_statement
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import MAX_PAGE_ID_CHARS, ContactMethodType, DeliveryResult, DeliveryStatus, Page
from tests.helpers import TopicReader, eventually
from tests.notifier.commit_cutter import CommitCutter
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import (
    WEBHOOK_SECRET,
    api_client,
    delivered_alone,
    deliveries_counted,
    deliveries_for,
    final_delivery,
    past,
    produce_pages,
    refusing,
)
from tests.providers.servers import CaptureServer, Received, Reply, TwilioServer


def _for_page(capture: CaptureServer, page: Page) -> int:
    return len([p for p in capture.pages() if p["page"]["page_id"] == page.page_id])


async def _settle(notifier: Notifier, settings: NotifierSettings, sentinel: Page, capture: CaptureServer) -> None:
    await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [sentinel])
    await asyncio.to_thread(capture.wait_for, 1, 20, lambda r: sentinel.page_id in r.body.decode())
    async with api_client(notifier) as client:
        await final_delivery(client, sentinel.page_id)


async def test_same_page_consumed_twice_sends_one_message(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    async with Notifier(settings) as notifier:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page, page])
        await _settle(notifier, settings, make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook"), capture)
        async with api_client(notifier) as client:
            (delivery,) = await deliveries_for(client, page=page.page_id)
    assert _for_page(capture, page) == 1
    assert delivery["status"] == "sent"
    assert len(delivery["attempts"]) == 1


async def test_restarted_notifier_rereading_the_topic_does_not_resend(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, unique: str
) -> None:
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    async with Notifier(settings) as first, api_client(first) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        await final_delivery(client, page.page_id)
    # A new consumer group reads the topic from the start: as if no offset had ever been committed.
    rereading = settings.model_copy(update={"consumer_group": f"notifier-reread-{unique}"})
    async with Notifier(rereading) as second:
        await _settle(second, rereading, make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook"), capture)
    assert _for_page(capture, page) == 1


async def test_crash_after_commit_before_send_is_sent_exactly_once_after_restart(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    engine = make_engine(settings.database_url)
    async with engine.begin() as conn:  # what the handler commits before the process dies
        outcome = await admit_pages(conn, [page], datetime.now(UTC), DeliveryPolicy.from_settings(settings))
    await engine.dispose()
    assert len(outcome.dispatch_now) == 1
    assert capture.requests == []
    async with Notifier(settings, consume=False) as restarted, api_client(restarted) as client:
        delivery = await final_delivery(client, page.page_id)
    assert delivery["status"] == "sent"
    assert _for_page(capture, page) == 1


@pytest.mark.parametrize("claimed_at", ["admission", "claim"])
async def test_crash_mid_send_is_resent_after_the_lease_with_the_same_idempotency_key(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, claimed_at: str
) -> None:
    """The documented at-least-once window: provider accepted, outcome not recorded, process gone. A page is
    claimed by its INSERT when a send slot is free at admission, else by the dispatcher's claim: same window."""
    settings = make_settings(send_lease_seconds=1.0)
    policy = DeliveryPolicy.from_settings(settings)
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    engine = make_engine(settings.database_url)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        outcome = await admit_pages(conn, [page], now, policy, send_slots=1 if claimed_at == "admission" else 0)
    if claimed_at == "claim":
        async with engine.begin() as conn:
            outcome.claimed = await claim_due(conn, now, now + timedelta(seconds=1), 10, outcome.dispatch_now)
    await engine.dispose()
    (claimed,) = outcome.claimed  # claimed and (as far as anyone knows) handed to the provider
    async with httpx.AsyncClient() as http:  # the provider accepts; then the process dies before recording it
        await WebhookProvider(http, WEBHOOK_SECRET).send(Outgoing(claimed.id, claimed.attempt, claimed.page))
    async with Notifier(settings, consume=False) as restarted, api_client(restarted) as client:
        delivery = await final_delivery(client, page.page_id)
    assert delivery["status"] == "sent"
    assert delivery["attempt_count"] == 2  # the lost attempt counts
    assert [a["status"] for a in delivery["attempts"]] == ["sent"]
    first, second = capture.requests  # sent twice: the window docs/notifications.md describes
    assert first.header("Idempotency-Key") == second.header("Idempotency-Key") == delivery["delivery_id"]


async def test_an_admission_that_committed_as_its_connection_was_lost_is_sent_at_once_not_after_the_lease(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """The INSERT that claimed the page committed, then the connection died before the answer: the handler
    raises and Kafka's batch is admitted again, finding the page already recorded and still claimed. Before the
    fix nobody sent it until the lease (two minutes) ran out."""
    base = make_settings()
    assert DeliveryPolicy.from_settings(base).send_lease >= timedelta(seconds=120)
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    async with CommitCutter(base.database_url) as cutter:
        settings = base.model_copy(update={"database_url": cutter.url})
        async with Notifier(settings) as notifier, api_client(notifier) as client:
            cutter.arm()
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
            await asyncio.wait_for(cutter.cut.wait(), 20)
            delivery = await final_delivery(client, page.page_id, timeout=20)
    assert delivery["status"] == "sent"
    assert delivery["attempt_count"] == 1  # handed back unsent, then claimed once
    assert _for_page(capture, page) == 1


class _ArmingCapture(CaptureServer):
    """A webhook receiver that arms the commit cutter as it accepts a page: the next INSERT to commit is then the
    send's outcome (the fenced update of the delivery and its attempt row, one statement)."""

    def __init__(self, cutter: CommitCutter) -> None:
        super().__init__(secret=WEBHOOK_SECRET)
        self.cutter = cutter

    def respond(self, request: Received) -> Reply:
        reply = super().respond(request)
        self.cutter.arm()  # a plain flag: read by the proxy's loop before it forwards the outcome's answer
        return reply


def _leases_lost() -> float:
    return REGISTRY.get_sample_value("alertrouter_notifier_leases_lost_total") or 0.0


async def test_an_outcome_that_committed_as_its_connection_was_lost_counts_as_stored_not_as_a_lost_lease(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    """The outcome statement committed, then the connection died before the answer. Its retry finds the claim
    gone (the first write ended it) and stores nothing: before the fix the sender was told its lease was lost
    (leases_lost_total counted one), and its result waited for the outbox sweep."""
    base = make_settings()
    async with CommitCutter(base.database_url) as cutter:
        with _ArmingCapture(cutter) as receiver:
            page = make_page(ContactMethodType.WEBHOOK, f"{receiver.url}/hook")
            settings = base.model_copy(update={"database_url": cutter.url})
            reader = await TopicReader(settings.kafka_bootstrap_servers, settings.deliveries_topic).start()
            lost_before = _leases_lost()
            try:
                async with Notifier(settings) as notifier, api_client(notifier) as client:
                    await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
                    await asyncio.wait_for(cutter.cut.wait(), 20)
                    delivery = await final_delivery(client, page.page_id, timeout=20)

                    async def published() -> list[DeliveryResult] | None:
                        results = [DeliveryResult.model_validate_json(value) for value in reader.values]
                        return [r for r in results if r.page_id == page.page_id] or None

                    (result,) = await eventually(published, timeout=20, what="the stored outcome's result")
            finally:
                await reader.stop()
    assert _leases_lost() == lost_before, "an outcome that was stored is no lost lease"
    assert delivery["status"] == "sent"
    assert delivery["attempt_count"] == 1
    assert [a["status"] for a in delivery["attempts"]] == ["sent"], "stored once: the retry wrote nothing"
    assert (result.status, result.attempt, result.delivery_id) == (DeliveryStatus.SENT, 1, delivery["delivery_id"])
    assert result.at == datetime.fromisoformat(delivery["attempts"][0]["at"]), "the stored row's time, not the retry's"
    assert len(receiver.pages()) == 1


async def test_due_pages_are_claimed_by_their_insert_up_to_the_free_send_slots(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    settings = make_settings(throttle_sms_max=3)
    policy = DeliveryPolicy.from_settings(settings)
    first, second = (make_page(ContactMethodType.WEBHOOK, f"http://hooks.test/{n}") for n in (1, 2))
    sms = make_page(ContactMethodType.SMS, "+447700901" + str(int(unique[:6], 16) % 1000).zfill(3))  # flood-limited
    now = datetime.now(UTC)
    later = make_page(ContactMethodType.WEBHOOK, "http://hooks.test/3", send_at=now + timedelta(minutes=5))
    engine = make_engine(settings.database_url)
    async with engine.begin() as conn:  # two free slots: the page scheduled later and the SMS take neither
        outcome = await admit_pages(conn, [later, sms, first, second], now, policy, send_slots=2)
        rows = {
            row.page_id: row
            for row in await conn.execute(
                text(
                    "SELECT id, page_id, status, attempt_count, lease_until FROM notifier_delivery"
                    " WHERE page_id = ANY(:p)"
                ),
                {"p": [p.page_id for p in (first, second, later, sms)]},
            )
        }
    assert [(c.page.page_id, c.attempt, c.provider_slot) for c in outcome.claimed] == [
        (first.page_id, 1, 0),
        (second.page_id, 1, 0),
    ]
    for page in (first, second):
        assert (rows[page.page_id].status, rows[page.page_id].attempt_count) == ("sending", 1)
        assert rows[page.page_id].lease_until == now + policy.send_lease
    assert {rows[p.page_id].status for p in (sms, later)} == {"pending"}
    assert outcome.dispatch_now == [rows[sms.page_id].id]  # claimed after its flood window admitted it

    third = make_page(ContactMethodType.WEBHOOK, "http://hooks.test/4")
    async with engine.begin() as conn:  # no free slot: the page waits for the dispatcher's claim
        crowded = await admit_pages(conn, [third], datetime.now(UTC), policy, send_slots=0)
        # nothing left for the notifiers of later tests (the database is shared) to send
        pages = [p.page_id for p in (first, second, later, sms, third)]
        await conn.execute(text("DELETE FROM notifier_delivery WHERE page_id = ANY(:p)"), {"p": pages})
    await engine.dispose()
    assert crowded.claimed == [] and len(crowded.dispatch_now) == 1


async def test_pending_retries_survive_a_restart(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    settings = make_settings(twilio_base_url=twilio.url, retry_base_seconds=1.0, retry_max_seconds=1.0)
    page = make_page(ContactMethodType.SMS, "+447700900" + str(int(unique[:6], 16) % 1000).zfill(3))
    twilio.script(*[Reply(503, {"code": 20503, "message": "Service unavailable", "status": 503})] * 50)
    async with Notifier(settings) as first, api_client(first) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])

        async def retrying() -> list[dict[str, object]] | None:
            items = await deliveries_for(client, page=page.page_id)
            return items if items and items[0]["status"] == "retrying" else None

        await eventually(retrying, what="the first attempt to fail")
    assert twilio.messages == []
    twilio.reset()  # the provider recovers while the notifier is down
    async with Notifier(settings) as second, api_client(second) as client:
        delivery = await final_delivery(client, page.page_id)
    assert delivery["status"] == "sent"
    assert delivery["attempts"][0]["status"] == "retrying"
    assert delivery["attempts"][-1]["status"] == "sent"
    assert len(twilio.messages) == 1


async def test_page_older_than_the_maximum_age_is_reported_expired_not_sent(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    capture: CaptureServer,
    deliveries_reader: TopicReader,
) -> None:
    settings = make_settings(max_page_age_seconds=900)
    stale = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook", send_at=past(1000), created_at=past(1000))
    expired_before = deliveries_counted("webhook", "expired")
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [stale])
        await _settle(notifier, settings, make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook"), capture)
        delivery = await final_delivery(client, stale.page_id)
    assert delivery["status"] == "expired"
    assert deliveries_counted("webhook", "expired") - expired_before == 1  # ended at admission, counted as such
    assert "older than the maximum age" in delivery["attempts"][0]["error"]
    assert _for_page(capture, stale) == 0

    async def published() -> list[DeliveryResult] | None:
        results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
        return [r for r in results if r.page_id == stale.page_id] or None

    (result,) = await eventually(published, what="the expired result on the deliveries topic")
    assert result.status == "expired"


async def test_undecodable_records_go_to_the_dead_letter_topic(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, kafka_bootstrap: str
) -> None:
    settings = make_settings()
    good = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    wrong_version = good.model_dump_json().replace('"schema_version":1', '"schema_version":2').encode()
    async with Notifier(settings) as notifier:
        await produce_pages(kafka_bootstrap, settings.pages_topic, [b"{not json", wrong_version])
        await _settle(notifier, settings, good, capture)
    consumer = AIOKafkaConsumer(
        settings.pages_dlq_topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []

        async def dead_lettered() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            records.extend(r for rs in batch.values() for r in rs)
            return len(records) >= 2

        await eventually(dead_lettered, what="two records on the dead-letter topic")
    finally:
        await consumer.stop()
    assert [r.value for r in records] == [b"{not json", wrong_version]
    counted = REGISTRY.get_sample_value("alertrouter_records_dead_lettered_total", {"topic": settings.pages_dlq_topic})
    assert counted == 2  # for AlertrouterRecordsDeadLettered (the topic is this test's own)
    headers = dict(records[0].headers)
    assert headers["source_topic"].decode() == settings.pages_topic
    assert headers["error"].decode().startswith("not a valid Page v1: ")
    assert dict(records[1].headers)["error"] == b"not a valid Page v1: schema_version: Input should be 1"
    assert _for_page(capture, good) == 1


async def test_page_that_waited_out_a_notifier_outage_expires_instead_of_being_sent(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    settings = make_settings(max_page_age_seconds=900)
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    engine = make_engine(settings.database_url)
    async with engine.begin() as conn:  # admitted, then the notifier was down for 16 minutes
        await admit_pages(conn, [page], datetime.now(UTC), DeliveryPolicy.from_settings(settings))
    await engine.dispose()
    later = OffsetClock(timedelta(minutes=16))
    async with Notifier(settings, clock=later, consume=False) as restarted, api_client(restarted) as client:
        delivery = await final_delivery(client, page.page_id)
    assert delivery["status"] == "expired"
    assert capture.requests == []


def test_a_batch_is_admitted_without_a_transaction_only_when_its_insert_is_all_there_is(
    make_page: PageFactory,
) -> None:
    policy = DeliveryPolicy.from_settings(NotifierSettings(throttle_sms_max=3, throttle_webhook_max=0))
    now = datetime.now(UTC)
    fresh = make_page(ContactMethodType.WEBHOOK, "http://hooks.test/a")
    old = make_page(ContactMethodType.WEBHOOK, "http://hooks.test/b", send_at=now - timedelta(hours=1))
    sms = make_page(ContactMethodType.SMS, "+15005550006")  # flood window to lock
    digest = make_page(ContactMethodType.SMS, "+15005550006", kind="digest")
    assert one_statement([fresh, digest], now, policy)
    assert not one_statement([fresh, old], now, policy)  # the expired one is recorded as such too
    assert not one_statement([fresh, sms], now, policy)


async def test_pages_beyond_the_send_slots_go_out_as_slots_free_not_at_the_next_poll(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """One send slot, four pages at once and a retry poll of a minute: the three that did not fit are claimed as
    the slot frees (they used to wait for the poll: bursts at 500 alerts/s arrived up to half a second late)."""
    settings = make_settings(max_concurrent_sends=1, retry_poll_seconds=60)
    pages = [make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook/{n}") for n in range(4)]
    async with Notifier(settings) as notifier:
        # the retry worker's first pass runs at start, long before the consumer has joined its group and read these
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, pages)
        await asyncio.to_thread(capture.wait_for, len(pages), 15)
        async with api_client(notifier) as client:
            for page in pages:
                assert (await final_delivery(client, page.page_id))["status"] == "sent"
    assert sorted(p["page"]["page_id"] for p in capture.pages()) == sorted(p.page_id for p in pages)


async def test_a_page_turned_away_during_a_claim_pass_wakes_the_worker_when_the_pass_ends(
    make_settings: SettingsFactory,
) -> None:
    """The retry worker's claim holds every free slot while it runs, so a page admitted meanwhile finds none and
    waits in the table. A pass whose claim began before that page was stored must not conclude that nothing waits:
    it wakes the worker for another pass (it left the page to the next poll: half a second, seen at 250/s)."""
    notifier = Notifier(make_settings(max_concurrent_sends=1), consume=False)
    woken = asyncio.Event()
    notifier.dispatcher.call_when_room(woken.set)
    try:
        async with notifier.engine.connect() as blocker, notifier.engine.connect() as observer:
            await blocker.execute(text("LOCK TABLE notifier_delivery IN SHARE MODE"))  # claims wait, reads do not
            claim = asyncio.create_task(notifier.dispatcher.run_due())

            async def claim_waits() -> bool:
                waiting = await observer.scalar(
                    text("SELECT count(*) FROM pg_locks WHERE relation = 'notifier_delivery'::regclass AND NOT granted")
                )
                await observer.rollback()
                return bool(waiting)

            await eventually(claim_waits, what="the claim pass waiting on the table lock")
            assert notifier.dispatcher.reserve(1) == 0  # the page arriving now: no slot, it waits in the table
            assert not woken.is_set()
            await blocker.rollback()
        assert await claim == 0
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        await notifier.channels.aclose()
        await notifier.http.aclose()
        await notifier.engine.dispose()


async def test_a_page_id_of_the_contract_s_longest_length_is_admitted_and_sent(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """Longer than the 255 characters the delivery table held: the admission failed for good and was retried
    forever, holding back every page after it."""
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    page = page.model_copy(update={"page_id": page.page_id.ljust(MAX_PAGE_ID_CHARS, "x")})
    delivery = await delivered_alone(settings, page)
    assert delivery["status"] == "sent" and _for_page(capture, page) == 1


async def test_an_address_the_url_parser_refuses_fails_its_delivery_and_holds_back_no_page(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """Masking ``https://[fe80::1/hook`` (an unclosed IPv6 bracket) raised: the batch was retried forever, every
    page after it on the partition waited, and each retry kept the send slots it had reserved."""
    settings = make_settings()
    broken = make_page(ContactMethodType.WEBHOOK, "https://[fe80::1/hook")
    after = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [broken, after])
        sent = await final_delivery(client, after.page_id)
        failed = await final_delivery(client, broken.page_id)
    assert sent["status"] == "sent" and _for_page(capture, after) == 1
    assert failed["status"] == "failed" and failed["destination_masked"] == "https://***"


async def test_a_page_the_database_refuses_is_dead_lettered_and_the_rest_of_its_batch_is_sent(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, unique: str
) -> None:
    """No page of ours is known to fail its admission for a reason other than an outage, so a trigger of the
    test's database refuses one: the others of its batch must still be sent, and it must reach the dead-letter
    topic rather than be retried forever (holding back the partition)."""
    settings = make_settings()
    refused, first, last = (make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook") for _ in range(3))
    engine = make_engine(settings.database_url)
    dead_letters = await TopicReader(settings.kafka_bootstrap_servers, settings.pages_dlq_topic).start()
    when = f"NEW.page_id = '{refused.page_id}'"
    try:
        async with (
            refusing(engine, f"refuse_page_{unique}", "notifier_delivery", "23514", when),
            Notifier(settings) as notifier,
            api_client(notifier) as client,
        ):
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [first, refused, last])
            for page in (first, last):
                assert (await final_delivery(client, page.page_id))["status"] == "sent"

            async def dead_lettered() -> list[bytes] | None:
                return [v for v in dead_letters.values if refused.page_id.encode() in v] or None

            await eventually(dead_lettered, what="the refused page in the dead-letter topic")
    finally:
        await dead_letters.stop()
        await engine.dispose()
    assert _for_page(capture, refused) == 0


async def test_a_digest_that_cannot_be_flushed_holds_up_no_retry(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, unique: str
) -> None:
    """Closing flood windows, claiming due retries and the housekeeping shared one ``try``: a window whose held
    page no longer decodes (stored by another notifier version) failed every pass, and no retry went out."""
    settings = make_settings()
    key = hashlib.sha256(unique.encode()).hexdigest()
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    engine = make_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO notifier_throttle (key, channel, window_start, sent_in_window, suppressed, digest_due_at,"
                " last_page) VALUES (:key, 'sms', :at, 3, 1, :at, CAST(:page AS jsonb))"
            ),
            {"key": key, "at": long_ago, "page": '{"not": "a page"}'},
        )
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook")
    capture.script(Reply(503))  # the first attempt fails: the page goes out only through a retry
    try:
        delivery = await delivered_alone(settings, page)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM notifier_throttle WHERE key = :key"), {"key": key})
        await engine.dispose()
    assert delivery["status"] == "sent" and delivery["attempt_count"] == 2
