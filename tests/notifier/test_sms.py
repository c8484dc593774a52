"""SMS specifics: the Twilio request, failover to the secondary provider, and signed status callbacks."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from alertrouter_notifier.db.tables import delivery
from alertrouter_notifier.rendering.text import sms_segments
from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import ContactMethodType, DeliveryResult
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import (
    STATUS_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    api_client,
    delivered_alone,
    deliveries_for,
    final_delivery,
    produce_pages,
    status_callback,
    undelivered_callback,
)
from tests.providers.servers import Reply, TwilioServer, twilio_signature

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECONDARY_SID = "ACsecondary00000000000000000000000"
SECONDARY_TOKEN = "secondary-token"


def number(unique: str) -> str:
    return "+1201555" + str(int(unique[:8], 16) % 10_000).zfill(4)


@pytest.fixture
def secondary() -> Iterator[TwilioServer]:
    with TwilioServer(account_sid=SECONDARY_SID, auth_token=SECONDARY_TOKEN) as server:
        yield server


def _failover_settings(primary: TwilioServer, secondary: TwilioServer) -> dict[str, object]:
    return {
        "twilio_base_url": primary.url,
        "sms_secondary_base_url": secondary.url,
        "sms_secondary_account_sid": SECONDARY_SID,
        "sms_secondary_auth_token": SECONDARY_TOKEN,
        "sms_secondary_from": "+12015550199",
        "failover_after_seconds": 1.0,
        "retry_base_seconds": 0.1,
        "retry_max_seconds": 0.3,
    }


async def test_twilio_request_shape_and_sid_recorded(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    settings = make_settings(twilio_base_url=twilio.url)
    page = make_page(ContactMethodType.SMS, number(unique), summary="5xx ratio is 7.3% " * 30)
    delivery = await delivered_alone(settings, page)
    (request,) = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages.json"
    assert request.header("Content-Type").startswith("application/x-www-form-urlencoded")
    form = request.form()
    expected_fields = set(json.loads((FIXTURES / "twilio" / "create-message-request.form.json").read_text())) - {
        "_comment"
    }
    assert set(form) == expected_fields
    assert form["To"] == page.contact_method.address
    assert form["From"] == "+12015550123"
    assert form["StatusCallback"] == "http://notifier.test/v1/twilio/status"
    assert sms_segments(form["Body"]) <= 2
    assert "http://notifier.test/acknowledge/" in form["Body"]
    assert delivery["status"] == "sent"
    assert delivery["provider_message_id"] == twilio.messages[0]["sid"]
    assert delivery["provider_status_code"] == "201"
    assert delivery["destination_masked"].endswith(page.contact_method.address[-4:])
    assert page.contact_method.address not in delivery["destination_masked"]


async def test_primary_down_until_the_failover_deadline_then_secondary_delivers(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    secondary: TwilioServer,
    unique: str,
) -> None:
    twilio.script(*[Reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500})] * 500)
    settings = make_settings(**_failover_settings(twilio, secondary))
    page = make_page(ContactMethodType.SMS, number(unique))
    delivery = await delivered_alone(settings, page)
    assert delivery["status"] == "sent"
    assert delivery["provider"] == "sms-secondary"
    primary_attempts = [a for a in delivery["attempts"] if a["provider"] == "twilio"]
    assert len(primary_attempts) >= 2
    assert all(a["status"] == "retrying" and a["provider_status_code"] == "20500" for a in primary_attempts)
    assert delivery["attempts"][-1]["provider"] == "sms-secondary"
    assert twilio.messages == []
    assert len(secondary.messages) == 1
    assert secondary.messages[0]["From"] == "+12015550199"


async def test_rejected_credentials_fail_over_at_once(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    secondary: TwilioServer,
    unique: str,
) -> None:
    settings = make_settings(**_failover_settings(twilio, secondary), twilio_auth_token="wrong")
    page = make_page(ContactMethodType.SMS, number(unique))
    delivery = await delivered_alone(settings, page)
    assert [(a["provider"], a["provider_status_code"]) for a in delivery["attempts"]] == [
        ("twilio", "20003"),
        ("sms-secondary", "201"),
    ]
    assert len(secondary.messages) == 1


@pytest.mark.parametrize("code", [21211, 21610])
async def test_recipient_errors_do_not_fail_over(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    secondary: TwilioServer,
    unique: str,
    code: int,
) -> None:
    twilio.script(Reply.twilio_error(code))
    settings = make_settings(**_failover_settings(twilio, secondary))
    page = make_page(ContactMethodType.SMS, number(unique))
    delivery = await delivered_alone(settings, page)
    assert delivery["status"] == "failed"
    assert delivery["provider_status_code"] == str(code)
    assert secondary.requests == []


@pytest.mark.parametrize("channel", [ContactMethodType.SMS, ContactMethodType.VOICE])
async def test_an_accepted_message_whose_answer_is_not_json_is_sent_once(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    unique: str,
    channel: ContactMethodType,
) -> None:
    """A Twilio-compatible API (or a proxy in front of it) answered 201 with a body that was not JSON: reading the
    sid raised, the accepted message counted as a transient failure and was sent again on every retry until the
    deadline. A 2xx is the message accepted: recorded sent, once, without a sid when none can be read."""
    twilio.script(Reply(201, "Created", {"Content-Type": "text/plain"}))
    settings = make_settings(twilio_base_url=twilio.url)
    page = make_page(channel, number(unique))
    delivery = await delivered_alone(settings, page)
    assert (delivery["status"], delivery["attempt_count"], delivery["provider_message_id"]) == ("sent", 1, None)
    assert len(twilio.requests) == 1


async def test_signed_status_callback_marks_undelivered_and_never_moves_back(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    unique: str,
    deliveries_reader: TopicReader,
) -> None:
    settings = make_settings(twilio_base_url=twilio.url)
    page = make_page(ContactMethodType.SMS, number(unique))
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        fields = undelivered_callback((await final_delivery(client, page.page_id))["provider_message_id"])

        unsigned = await status_callback(client, fields, "bm90LWEtc2lnbmF0dXJl")
        assert unsigned.status_code == 403
        assert (await deliveries_for(client, page=page.page_id))[0]["status"] == "sent"

        signed = await status_callback(client, fields, twilio_signature(TWILIO_TOKEN, STATUS_URL, fields))
        assert signed.status_code == 204
        late = {**fields, "MessageStatus": "delivered", "SmsStatus": "delivered"}
        late.pop("ErrorCode")
        assert (
            await status_callback(client, late, twilio_signature(TWILIO_TOKEN, STATUS_URL, late))
        ).status_code == 204
        (delivery,) = await deliveries_for(client, page=page.page_id)

    assert delivery["status"] == "undelivered"
    assert delivery["attempts"][-1]["provider_status_code"] == "30003"
    assert "unreachable handset" in delivery["attempts"][-1]["error"]
    assert len(delivery["attempts"]) == 2

    async def published() -> list[DeliveryResult] | None:
        results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
        return [r for r in results if r.page_id == page.page_id and r.status == "undelivered"] or None

    (undelivered,) = await eventually(published, what="the undelivered result on the deliveries topic")
    assert undelivered.failed_for_good and undelivered.failure_reason == "sms undelivered (30003)"
    assert (undelivered.user_id, undelivered.contact_method_id) == (page.user_id, page.contact_method.id)


async def test_provider_errors_never_show_the_number_in_full(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    unique: str,
    deliveries_reader: TopicReader,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(twilio_base_url=twilio.url)
    digits = number(unique)[2:]
    page = make_page(ContactMethodType.SMS, f"+1 {digits[:3]} {digits[3:]}")  # not E.164: Twilio answers 21211
    delivery = await delivered_alone(settings, page)

    async def published() -> list[DeliveryResult] | None:
        results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
        return [r for r in results if r.page_id == page.page_id] or None

    (result,) = await eventually(published, what="the failed result on the deliveries topic")
    assert twilio.requests[0].status == 400
    assert "is not a valid phone number" in delivery["last_error"]
    texts = [delivery["last_error"], delivery["attempts"][0]["error"], result.error or "", capfd.readouterr().out]
    for shown in texts:
        assert digits[3:] not in shown.replace(" ", ""), shown
    assert "+" + "*" * (len(digits) + 1 - 4) + digits[-4:] in delivery["last_error"]
    assert result.failed_for_good and result.failure_reason == "sms failed (21211)"
    assert delivery["failure_reason"] == "sms failed (21211)"


API_KEY_SID, API_KEY_SECRET = "SK0123456789abcdef0123456789abcdef", "api-key-secret"


async def test_with_an_api_key_callbacks_are_verified_with_the_account_s_auth_token(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    """The key's secret was the only token tried, and Twilio signs with the account's auth token: every callback
    was refused (403), so an undelivered SMS never escalated at once."""
    with TwilioServer(
        account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, api_keys={API_KEY_SID: API_KEY_SECRET}
    ) as twilio:
        settings = make_settings(
            twilio_base_url=twilio.url,
            twilio_api_key_sid=API_KEY_SID,
            twilio_auth_token=API_KEY_SECRET,
            twilio_webhook_auth_token=TWILIO_TOKEN,
        )
        page = make_page(ContactMethodType.SMS, number(unique))
        async with Notifier(settings) as notifier, api_client(notifier) as client:
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
            fields = undelivered_callback((await final_delivery(client, page.page_id))["provider_message_id"])
            by_key = await status_callback(client, fields, twilio_signature(API_KEY_SECRET, STATUS_URL, fields))
            assert by_key.status_code == 403
            genuine = await status_callback(client, fields, twilio_signature(TWILIO_TOKEN, STATUS_URL, fields))
            assert genuine.status_code == 204
            (delivery,) = await deliveries_for(client, page=page.page_id)
        assert delivery["status"] == "undelivered"
        (request,) = twilio.requests
        credentials = base64.b64decode(request.header("Authorization").removeprefix("Basic ")).decode()
        assert credentials == f"{API_KEY_SID}:{API_KEY_SECRET}"  # the key authenticated the send


def test_an_api_key_without_the_account_s_auth_token_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="NOTIFIER_TWILIO_WEBHOOK_AUTH_TOKEN"):
        NotifierSettings(twilio_api_key_sid=API_KEY_SID, twilio_auth_token=API_KEY_SECRET)
    with pytest.raises(ValueError, match="NOTIFIER_SMS_SECONDARY_WEBHOOK_AUTH_TOKEN"):
        NotifierSettings(sms_secondary_api_key_sid=API_KEY_SID, sms_secondary_auth_token=API_KEY_SECRET)


async def test_a_failure_callback_that_overtakes_the_outcome_s_commit_waits_for_it(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    """The callback waited 2 s for the send's outcome, about as long as the outcome writer retries a database
    hiccup: an early 'undelivered' was answered 204 and ignored, and the router never escalated on it."""
    settings = make_settings(twilio_base_url=twilio.url)
    page = make_page(ContactMethodType.SMS, number(unique))
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        sid = (await final_delivery(client, page.page_id))["provider_message_id"]
        unrecorded = delivery.update().where(delivery.c.page_id == page.page_id)
        async with notifier.engine.begin() as conn:  # as if the outcome's commit were still to come
            await conn.execute(unrecorded.values(provider_message_id=None))
        fields = undelivered_callback(sid)
        early = asyncio.create_task(status_callback(client, fields, twilio_signature(TWILIO_TOKEN, STATUS_URL, fields)))
        with pytest.raises(TimeoutError):  # still waiting past the writer's 2 s of retries
            await asyncio.wait_for(asyncio.shield(early), timeout=3)
        async with notifier.engine.begin() as conn:  # the outcome lands
            await conn.execute(unrecorded.values(provider_message_id=sid))
        assert (await early).status_code == 204
        (recorded,) = await deliveries_for(client, page=page.page_id)
    assert recorded["status"] == "undelivered"


async def test_a_status_callback_that_meets_a_database_hiccup_is_recorded(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    """Every pooled connection of the notifier is cut just before Twilio's "undelivered" arrives: answered 500 (and
    Twilio does not retry status callbacks), the delivery stayed sent and the router never escalated at once."""
    settings = make_settings(twilio_base_url=twilio.url)
    page = make_page(ContactMethodType.SMS, number(unique))
    admin = make_engine(settings.database_url, pool_size=1)
    try:
        async with Notifier(settings) as notifier, api_client(notifier) as client:
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
            fields = undelivered_callback((await final_delivery(client, page.page_id))["provider_message_id"])
            async with admin.connect() as conn:
                cut = await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
                    )
                )
                assert cut.all(), "the notifier had pooled connections to cut"
            answered = await status_callback(client, fields, twilio_signature(TWILIO_TOKEN, STATUS_URL, fields))
            assert answered.status_code == 204, answered.text
            (delivery,) = await deliveries_for(client, page=page.page_id)
    finally:
        await admin.dispose()
    assert delivery["status"] == "undelivered"


async def test_the_primary_s_retry_after_does_not_hold_back_the_failover(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    secondary: TwilioServer,
    unique: str,
) -> None:
    """Twilio answers 429 with Retry-After: 300. That wait was applied to the next attempt although it goes to the
    secondary at the failover time; past the retry deadline, the page was given up without trying it."""
    twilio.script(*[Reply.twilio_error(20429, retry_after="300")] * 50)
    settings = make_settings(**_failover_settings(twilio, secondary))
    page = make_page(ContactMethodType.SMS, number(unique))
    delivery = await delivered_alone(settings, page)
    assert (delivery["status"], delivery["provider"]) == ("sent", "sms-secondary")
    assert delivery["attempts"][0]["provider_status_code"] == "20429"
    assert len(secondary.messages) == 1
