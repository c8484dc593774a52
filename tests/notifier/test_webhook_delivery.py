"""Priority path: a page on Kafka reaches a webhook receiver, signed, recorded, published and queryable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from sqlalchemy import select

from alertrouter_notifier.db.tables import attempt
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType, DeliveryResult
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import (
    WEBHOOK_SECRET,
    WRITE_ONLY_TOKEN,
    api_client,
    auth,
    delivered_alone,
    deliveries_for,
    final_delivery,
    produce_pages,
)
from tests.providers.servers import CaptureServer, Reply, verify_signature


async def test_page_is_posted_signed_recorded_and_published(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    capture: CaptureServer,
    deliveries_reader: TopicReader,
) -> None:
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/oncall")
    async with Notifier(settings) as notifier:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        (request,) = await asyncio.to_thread(capture.wait_for, 1)

        assert request.path == "/hooks/oncall"
        assert verify_signature(WEBHOOK_SECRET, request.header("X-Alertrouter-Signature"), request.body)
        body = request.json()
        assert body["type"] == "alertrouter.page"
        assert body["page"]["page_id"] == page.page_id
        assert body["links"]["acknowledge"].startswith("http://notifier.test/acknowledge/")
        assert request.header("Idempotency-Key") == body["delivery_id"]

        async with api_client(notifier) as client:

            async def sent() -> dict[str, object] | None:
                response = await client.get("/v1/deliveries", params={"incident": page.incident_id}, headers=auth())
                items = response.json()["items"]
                return items[0] if items and items[0]["status"] == "sent" else None

            delivery = await eventually(sent, what="delivery recorded as sent")
            assert delivery["channel"] == "webhook"
            assert delivery["destination_masked"] == "http://127.0.0.1/***"
            assert delivery["attempts"][0]["status"] == "sent"  # type: ignore[index]
            assert delivery["attempts"][0]["provider_status_code"] == "200"  # type: ignore[index]

        async def published() -> list[DeliveryResult] | None:
            results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
            return [r for r in results if r.page_id == page.page_id and r.status == "sent"] or None

        (result,) = await eventually(published, what="delivery result on the deliveries topic")
        assert result.incident_id == page.incident_id
        assert result.delivery_id == body["delivery_id"]
        assert result.destination_masked == "http://127.0.0.1/***"
        assert (result.attempt, result.provider, result.provider_status_code) == (1, "webhook", "200")

        async def marked() -> bool:  # the outbox row is marked published (batched), so no sweep repeats it
            async with notifier.engine.connect() as conn:
                stamp = await conn.scalar(
                    select(attempt.c.published_at).where(attempt.c.delivery_id == result.delivery_id)
                )
            return stamp is not None

        await eventually(marked, what="the attempt row marked published")


async def test_deliveries_api_requires_a_read_token(make_settings: SettingsFactory) -> None:
    async with Notifier(make_settings(), consume=False) as notifier, api_client(notifier) as client:
        missing = await client.get("/v1/deliveries")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await client.get("/v1/deliveries", headers=auth("not-a-token"))
        assert wrong.status_code == 401
        write_only = await client.get("/v1/deliveries", headers=auth(WRITE_ONLY_TOKEN))
        assert write_only.status_code == 403
        assert write_only.json()["status"] == 403
        bad_cursor = await client.get("/v1/deliveries", params={"cursor": "nope"}, headers=auth())
        assert bad_cursor.status_code == 422
        bad_limit = await client.get("/v1/deliveries", params={"limit": 0}, headers=auth())
        assert bad_limit.status_code == 422


async def test_a_receiver_s_overlong_request_id_is_stored_cut(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """A 300-character X-Request-Id failed the batch's outcome statement: the delivery stayed 'sending' and was
    sent again when its lease ran out, each time, until it expired (reported failed, though the receiver had it).
    Recorded as sent, it is final: nothing claims it again."""
    long_id = "req-" + "x" * 296
    capture.script(Reply(200, {"ok": True}, headers={"X-Request-Id": long_id}))
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/long-id")
    delivery = await delivered_alone(settings, page)
    assert delivery["status"] == "sent"
    assert delivery["attempts"][0]["provider_message_id"] == long_id[:255]
    assert [r.path for r in capture.requests].count("/hooks/long-id") == 1


async def test_a_receiver_s_error_body_with_a_nul_character_is_recorded_not_resent(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """The refusal's body is quoted in the attempt's error; a NUL in it failed the whole batch's outcome statement
    (PostgreSQL stores no U+0000), so every send of the batch stayed 'sending' and was sent again at its lease's end."""
    capture.script(Reply(400, "field\x00name is not allowed"))
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/nul-answer")
    delivery = await delivered_alone(settings, page)
    assert delivery["status"] == "failed"
    assert delivery["last_error"] == "webhook: HTTP 400: field\ufffdname is not allowed"
    assert [r.path for r in capture.requests].count("/hooks/nul-answer") == 1


async def test_a_retry_after_beyond_any_date_gives_the_delivery_up_at_once(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, deliveries_reader: TopicReader
) -> None:
    """A receiver answering 503 with Retry-After: 1e12 (or inf) made the next attempt's time overflow: the attempt
    crashed without an outcome, the delivery stayed 'sending' and was sent again at every lease expiry, and the
    router heard nothing until the page expired. Such a wait lies past the deadline: failed at once, published."""
    capture.script(Reply(503, "maintenance", headers={"Retry-After": "1e12"}))
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/far-retry-after")
    delivery = await delivered_alone(settings, page)
    assert delivery["status"] == "failed"
    assert delivery["last_error"].startswith("gave up at the retry deadline after 1 attempt(s)")
    assert [r.path for r in capture.requests].count("/hooks/far-retry-after") == 1

    async def published() -> DeliveryResult | None:
        results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
        return next((r for r in results if r.page_id == page.page_id and r.status == "failed"), None)

    result = await eventually(published, what="the failure on the deliveries topic")
    assert result.failed_for_good and result.failure_reason == "webhook retries past the deadline"


async def test_a_retry_that_would_come_after_the_page_expires_is_reported_expired_at_once(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """A page admitted late (850 s after it was due: a notifier outage) whose receiver asks to wait 400 s: the retry,
    inside the deadline (counted from admission), was scheduled at 1,250 s, past the maximum age of 900 s, and only
    then reported expired; the router could have escalated 350 s sooner."""
    capture.script(Reply(503, "busy", headers={"Retry-After": "400"}))
    settings = make_settings(max_page_age_seconds=900, retry_deadline_seconds=600)
    due = datetime.now(UTC) - timedelta(seconds=850)
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/late-retry", send_at=due, created_at=due)
    delivery = await delivered_alone(settings, page)
    assert delivery["status"] == "expired", delivery
    assert "past its maximum age: webhook: HTTP 503" in delivery["last_error"]
    assert [r.path for r in capture.requests].count("/hooks/late-retry") == 1


@pytest.mark.parametrize("address", ["hooks.example.test/oncall", "ftp://hooks.example.test/oncall"])
async def test_an_address_without_an_http_scheme_fails_at_once_not_at_the_deadline(
    make_settings: SettingsFactory, make_page: PageFactory, address: str
) -> None:
    """A webhook or Teams address missing its http(s):// (or with another scheme) will never be sent to, yet httpx
    reports it as a transport error: it was retried as transient until the retry deadline (ten minutes) before the
    router heard the person was not reached. It is a permanent failure, like an address the URL parser refuses."""
    settings = make_settings(retry_deadline_seconds=600)
    page = make_page(ContactMethodType.WEBHOOK, address)
    delivery = await delivered_alone(settings, page)
    assert (delivery["status"], delivery["attempt_count"]) == ("failed", 1)
    assert delivery["provider_status_code"] == "invalid_url"
    assert delivery["failure_reason"] == "webhook failed (invalid_url)"


async def test_a_retry_after_given_as_an_http_date_is_honoured(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer
) -> None:
    """RFC 9110 lets a receiver name the time to come back (``Retry-After: <HTTP date>``), as web servers in front
    of webhooks do; only delta-seconds were read, so the date was ignored and the receiver asked again at once."""
    not_before = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    capture.script(Reply(503, "maintenance", headers={"Retry-After": format_datetime(not_before, usegmt=True)}))
    settings = make_settings()
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/retry-at")
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])

        async def retrying() -> dict[str, Any] | None:
            items = await deliveries_for(client, page=page.page_id)
            return items[0] if items and items[0]["status"] == "retrying" else None

        waiting = await eventually(retrying, what="the delivery waiting for its retry")
        delivery = await final_delivery(client, page.page_id)
    assert datetime.fromisoformat(waiting["next_attempt_at"]) >= not_before - timedelta(seconds=1)
    assert (delivery["status"], delivery["attempt_count"]) == ("sent", 2)


@pytest.mark.parametrize(("status", "outcome"), [(200, "sent"), (400, "failed")])
async def test_an_answer_whose_encoding_does_not_match_its_body_is_decided_by_its_status(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, status: int, outcome: str
) -> None:
    """A receiver that labels a plain answer ``Content-Encoding: gzip``: the body could not be decoded and the send
    counted as transient whatever the status, so a page the receiver had accepted was posted again at every retry
    until the deadline, and then reported failed (a 400 was retried the same way)."""
    mislabelled = Reply(status, "ok", headers={"Content-Encoding": "gzip"})
    capture.script(*[mislabelled] * 5)
    settings = make_settings(retry_deadline_seconds=600)
    page = make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hooks/mislabelled")
    delivery = await delivered_alone(settings, page)
    assert (delivery["status"], delivery["attempt_count"]) == (outcome, 1), delivery
    assert [r.path for r in capture.requests].count("/hooks/mislabelled") == 1


@pytest.mark.parametrize(
    "address",
    ["http://hooks..example.test/oncall", f"http://{'a' * 64}.example.test/oncall", "http://127.0.0.1:99999/oncall"],
    ids=["empty-label", "long-label", "port"],
)
async def test_a_host_or_port_no_socket_takes_fails_at_once_not_at_the_deadline(
    make_settings: SettingsFactory, make_page: PageFactory, address: str
) -> None:
    """httpx takes these URLs and the socket layer refuses them (UnicodeError from the IDNA codec, OverflowError for
    the port), which are no httpx errors: the attempt counted as an unexpected transient failure and was retried
    until the retry deadline (ten minutes) before the router heard the person was not reached."""
    settings = make_settings(retry_deadline_seconds=600)
    page = make_page(ContactMethodType.WEBHOOK, address)
    delivery = await delivered_alone(settings, page)
    assert (delivery["status"], delivery["attempt_count"]) == ("failed", 1), delivery
    assert delivery["failure_reason"] == "webhook failed (invalid_url)"
