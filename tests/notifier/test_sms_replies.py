"""Two-way SMS: replies acknowledge and resolve through the real router as the paged person; several open incidents
need the short code; unknown senders, stale codes and unreadable replies change nothing."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from alertrouter_notifier.api.sms_replies import Recent, bare_reply_target, parse_reply
from alertrouter_notifier.db.answers import KEEP, answer_key, claim
from alertrouter_notifier.db.sent_pages import SentPage
from alertrouter_notifier.rendering.text import incident_ref
from alertrouter_notifier.retry_worker import PRUNE_EVERY
from alertrouter_notifier.router_client import IncidentAction
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import ContactMethod, ContactMethodType, Page
from tests.helpers import eventually
from tests.notifier.conftest import SettingsFactory
from tests.notifier.live import ROUTER_TOKEN, LiveRouter, Person, public_settings, served
from tests.notifier.support import refusing
from tests.providers.base import Received, Reply
from tests.providers.twilio import CallbackReply, TwilioServer, twilio_body


def number(unique: str, n: int = 0) -> str:
    return "+1203555" + str((int(unique[:8], 16) + n) % 10_000).zfill(4)


@pytest.fixture
def clock() -> OffsetClock:
    """The notifier's: only the test of forgetting old answers moves it."""
    return OffsetClock()


@pytest.fixture
async def notifier(
    make_settings: SettingsFactory, twilio: TwilioServer, router_live: LiveRouter, clock: OffsetClock
) -> AsyncIterator[Notifier]:
    settings = make_settings(
        twilio_base_url=twilio.url,
        router_url=router_live.url,
        router_api_token=ROUTER_TOKEN,
        sms_replies=True,
        throttle_sms_max=0,
        **public_settings(),
    )
    async with Notifier(settings, clock=clock) as running, served(running):
        yield running


async def _page(notifier: Notifier, twilio: TwilioServer, router: LiveRouter, service: str, summary: str) -> Page:
    (page,) = await router.trigger(service, summary)
    await notifier.producer.send_and_wait(notifier.settings.pages_topic, page.model_dump_json().encode())

    def sms_arrived() -> list[Received]:
        return twilio.wait_for(1, 20.0, lambda r: f"#{incident_ref(page.incident_id)}" in r.form().get("Body", ""))

    await asyncio.to_thread(sms_arrived)
    return page


async def _reply(notifier: Notifier, twilio: TwilioServer, sender: str, body: str) -> str:
    url = f"{notifier.settings.public_url}/v1/twilio/sms/inbound"
    answer: CallbackReply = await asyncio.to_thread(twilio.incoming_sms, url, sender, body)
    assert answer.status == 200 and answer.content_type.startswith("application/xml"), answer.body
    return ET.fromstring(answer.body).findtext("Message") or ""


async def _status(router: LiveRouter, page: Page) -> tuple[str, str | None, str | None]:
    incident = (await router.incident(page.incident_id))["incident"]
    return incident["status"], incident["acknowledged_by"], incident["resolved_by"]


async def test_reply_1_acknowledges_and_4_resolves_as_the_paged_person(
    notifier: Notifier, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    dana = Person(f"dana-{unique}", {"sms": number(unique)})
    service = await router_live.add_service(unique, [[dana]])
    page = await _page(notifier, twilio, router_live, service, "payments API 5xx")
    (sms,) = twilio.messages
    assert "Reply 1=ack 4=resolve" in sms["Body"]

    answer = await _reply(notifier, twilio, dana.addresses["sms"], " ACK ")
    assert answer.startswith(f"Acknowledged: #{incident_ref(page.incident_id)}")
    assert await _status(router_live, page) == ("acknowledged", dana.id, None)

    assert "You have no incident to acknowledge" in await _reply(notifier, twilio, dana.addresses["sms"], "1")
    assert (await _reply(notifier, twilio, dana.addresses["sms"], "4")).startswith("Resolved: ")
    assert await _status(router_live, page) == ("resolved", dana.id, dana.id)


async def test_a_reply_the_database_cannot_take_for_now_is_answered_so_and_changes_nothing(
    notifier: Notifier, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    """It was answered 503, and Twilio retries no inbound message: the "1" was lost, and the person, answered
    nothing, could think it had acknowledged. A trigger of the test's database refuses as a busy server does."""
    gus = Person(f"gus-{unique}", {"sms": number(unique, 7)})
    service = await router_live.add_service(unique, [[gus]])
    page = await _page(notifier, twilio, router_live, service, "queue backlog")
    async with refusing(notifier.engine, f"busy_{unique}", "notifier_answer", "40001"):  # serialization failure
        answer = await _reply(notifier, twilio, gus.addresses["sms"], "1")
    assert answer == "alertrouter could not process your reply. Nothing was changed; please try again."
    assert await _status(router_live, page) == ("triggered", None, None)
    assert (await _reply(notifier, twilio, gus.addresses["sms"], "1")).startswith("Acknowledged: ")


async def test_several_open_incidents_need_the_code_and_stale_codes_change_nothing(
    notifier: Notifier, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    erin = Person(f"erin-{unique}", {"sms": number(unique, 1)})
    service = await router_live.add_service(unique, [[erin]])
    first = await _page(notifier, twilio, router_live, service, "disk full on db-1")
    second = await _page(notifier, twilio, router_live, service, "queue backlog")
    first_code, second_code = incident_ref(first.incident_id), incident_ref(second.incident_id)
    sender = erin.addresses["sms"]

    listing = await _reply(notifier, twilio, sender, "1")
    assert listing.startswith("You have 2 open incidents")
    assert f"#{first_code}" in listing and f"#{second_code}" in listing
    assert (await _status(router_live, first))[0] == (await _status(router_live, second))[0] == "triggered"

    assert (await _reply(notifier, twilio, sender, f"1 #{second_code}")).startswith(f"Acknowledged: #{second_code}")
    assert (await _status(router_live, second))[:2] == ("acknowledged", erin.id)
    assert (await _status(router_live, first))[0] == "triggered"

    assert (await _reply(notifier, twilio, sender, f"resolve {first_code}")).startswith("Resolved: ")
    stale = await _reply(notifier, twilio, sender, f"ack {first_code}")
    assert stale == f"#{first_code} Service {unique} is already resolved. Nothing was changed."
    unknown = await _reply(notifier, twilio, sender, "1 zz99zz99")
    assert unknown.startswith("Code zz99zz99 matches none of your recent incidents. Nothing was changed.")
    assert await _status(router_live, first) == ("resolved", None, erin.id)
    assert (await _status(router_live, second))[0] == "acknowledged"


async def test_unknown_senders_unsigned_requests_and_unreadable_replies_change_nothing(
    notifier: Notifier, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    finn = Person(f"finn-{unique}", {"sms": number(unique, 2)})
    service = await router_live.add_service(unique, [[finn]])
    page = await _page(notifier, twilio, router_live, service, "cert expires")
    url = f"{notifier.settings.public_url}/v1/twilio/sms/inbound"

    stranger = await _reply(notifier, twilio, "+14155550199", "1")
    assert stranger == "This number has no recent alertrouter pages. Nothing was changed."
    assert "did not understand" in await _reply(notifier, twilio, finn.addresses["sms"], "please call me")
    fields = {"From": finn.addresses["sms"], "Body": "1", "To": "+12015550123"}
    forged = await asyncio.to_thread(twilio.signed_post, url, fields, signature="bm90LWEtc2lnbmF0dXJl")
    assert forged.status == 403
    assert await _status(router_live, page) == ("triggered", None, None)


def test_reply_grammar() -> None:
    assert parse_reply("1") == parse_reply("Ack") == parse_reply(" acknowledge\n")
    assert parse_reply("4 #AB12cd34") is not None
    parsed = parse_reply("4 #AB12cd34")
    assert parsed is not None and parsed.action is IncidentAction.RESOLVE and parsed.code == "ab12cd34"
    assert parse_reply("") is None and parse_reply("2") is None and parse_reply("1 a b") is None


ACK, RESOLVE = IncidentAction.ACKNOWLEDGE, IncidentAction.RESOLVE
T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def _recent(incident: str, minutes: float, status: str | None) -> Recent:
    """Incident ``incident``, paged to the sender ``minutes`` after T0, ``status`` now."""
    at = T0 + timedelta(minutes=minutes)
    sms = ContactMethod(id="cm", type=ContactMethodType.SMS, address="+12035550100")
    page = Page(
        page_id=f"page-{incident}",
        incident_id=incident,
        decision_id=f"dec-{incident}",
        dedup_key=incident,
        service_id="checkout",
        team_id="payments",
        user_id="dana",
        contact_method=sms,
        send_at=at,
        created_at=at,
    )
    return Recent(SentPage(f"delivery-{incident}", page, at), status)


@pytest.mark.parametrize(
    ("action", "paged", "ambiguity_minutes", "acts_on", "answerable", "rivals"),
    [
        pytest.param(ACK, [("b", 0, "triggered")], 60, "b", ["b"], [], id="only-one"),
        pytest.param(ACK, [("b", 0, "triggered"), ("a", -10, "resolved")], 60, None, ["b"], ["a"], id="a-resolved"),
        pytest.param(ACK, [("b", 0, "triggered"), ("a", -600, "resolved")], 60, "b", ["b"], [], id="a-last-night"),
        pytest.param(ACK, [("b", 0, "triggered"), ("a", -60, "resolved")], 60, None, ["b"], ["a"], id="a-at-the-edge"),
        pytest.param(ACK, [("b", 0, "triggered"), ("a", -30, "acknowledged")], 60, None, ["b"], ["a"], id="a-acked"),
        pytest.param(ACK, [("a", 300, "resolved"), ("b", 0, "triggered")], 60, None, ["b"], ["a"], id="a-after-b"),
        pytest.param(ACK, [("b", 0, "triggered"), ("a", -5, None)], 60, None, ["b"], ["a"], id="a-unknown"),
        pytest.param(ACK, [("b", 0, "triggered"), ("a", -5, "triggered")], 60, None, ["b", "a"], [], id="two-open"),
        pytest.param(ACK, [("a", 0, "resolved")], 60, None, [], [], id="none-open"),
        pytest.param(ACK, [("b", 0, "triggered"), ("a", -1, "resolved")], 0, "b", ["b"], [], id="no-ambiguity"),
        pytest.param(ACK, [("a", 1, "resolved"), ("b", 0, "triggered")], 0, None, ["b"], ["a"], id="none-but-later"),
        pytest.param(RESOLVE, [("b", 0, "acknowledged"), ("a", -10, "triggered")], 60, None, ["b", "a"], [], id="r2"),
        pytest.param(RESOLVE, [("b", 0, "acknowledged"), ("a", -120, "resolved")], 60, "b", ["b"], [], id="r-old"),
        pytest.param(RESOLVE, [("b", 0, "acknowledged"), ("a", -10, "resolved")], 60, None, ["b"], ["a"], id="r-new"),
    ],
)
def test_a_reply_without_a_code_acts_only_when_no_other_recent_page_could_be_the_one_meant(
    action: IncidentAction,
    paged: list[tuple[str, float, str | None]],
    ambiguity_minutes: float,
    acts_on: str | None,
    answerable: list[str],
    rivals: list[str],
) -> None:
    target = bare_reply_target([_recent(*p) for p in paged], action, timedelta(minutes=ambiguity_minutes))
    assert (target.act_on.page.incident_id if target.act_on else None) == acts_on
    assert [item.page.incident_id for item in target.answerable] == answerable
    assert [rival.item.page.incident_id for rival in target.rivals] == rivals


async def test_a_bare_1_is_not_taken_for_the_next_incident_when_the_one_read_resolved_itself(
    notifier: Notifier, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    """Ivy read A's SMS; A resolved itself and B was paged to her. Her bare "1" meant A, but B was her only open
    incident: B was acknowledged, its escalation stopped, and nobody was paged for B any more."""
    ivy = Person(f"ivy-{unique}", {"sms": number(unique, 5)})
    service = await router_live.add_service(unique, [[ivy]])
    first = await _page(notifier, twilio, router_live, service, "checkout 5xx")
    await router_live.alert_resolved(first)
    second = await _page(notifier, twilio, router_live, service, "search latency")
    first_code, second_code = incident_ref(first.incident_id), incident_ref(second.incident_id)

    answer = await _reply(notifier, twilio, ivy.addresses["sms"], "1")
    assert answer == (
        f"#{first_code} Service {unique} is already resolved. Nothing was changed. You have 1 open incident: "
        f"#{second_code} Service {unique}. Reply 1 and the code, e.g. 1 {second_code}"
    )
    assert await _status(router_live, second) == ("triggered", None, None)

    answer = await _reply(notifier, twilio, ivy.addresses["sms"], f"1 {second_code}")
    assert answer.startswith(f"Acknowledged: #{second_code}"), answer
    assert await _status(router_live, second) == ("acknowledged", ivy.id, None)


async def test_a_bare_1_answers_the_page_that_reached_the_person_not_one_still_failing(
    notifier: Notifier, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    """Fay got the SMS of A; B's SMS to her is still being retried (Twilio answers 503). Her "1" meant A, but B
    counted as hers too: she was asked to choose between A and an incident she never received."""
    fay = Person(f"fay-{unique}", {"sms": number(unique, 2)})
    service = await router_live.add_service(unique, [[fay]])
    first = await _page(notifier, twilio, router_live, service, "api latency")
    twilio.script(*[Reply(503, twilio_body(20500, "Internal Server Error", 503))] * 1000)
    (second,) = await router_live.trigger(service, "db replica lag")
    attempts = len(twilio.requests)
    await notifier.producer.send_and_wait(notifier.settings.pages_topic, second.model_dump_json().encode())
    try:
        await asyncio.to_thread(twilio.wait_for, attempts + 2, 20.0)  # B was tried and is being retried
        answer = await _reply(notifier, twilio, fay.addresses["sms"], "1")
    finally:  # B would go on being retried by the notifiers of later tests (the database is shared): end it
        async with notifier.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE notifier_delivery SET status = 'failed', next_attempt_at = NULL, lease_until = NULL "
                    "WHERE page_id = :page"
                ),
                {"page": second.page_id},
            )
    assert answer.startswith(f"Acknowledged: #{incident_ref(first.incident_id)}"), answer
    assert (await _status(router_live, first))[:2] == ("acknowledged", fay.id)
    assert (await _status(router_live, second))[0] == "triggered"


async def test_a_replayed_reply_acts_once_and_never_on_a_newer_incident(
    notifier: Notifier, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    """Twilio's signature covers the URL and the fields, no time: a captured "1" stayed valid for ever, and sent
    again a day later it acknowledged whatever incident was open for that number then."""
    gus = Person(f"gus-{unique}", {"sms": number(unique, 3)})
    service = await router_live.add_service(unique, [[gus]])
    first = await _page(notifier, twilio, router_live, service, "tls handshake errors")
    url = f"{notifier.settings.public_url}/v1/twilio/sms/inbound"
    sid = "SM" + unique.ljust(32, "0")[:32]
    original = await asyncio.to_thread(twilio.incoming_sms, url, gus.addresses["sms"], "1", sid=sid)
    assert (ET.fromstring(original.body).findtext("Message") or "").startswith("Acknowledged: ")
    assert (await _reply(notifier, twilio, gus.addresses["sms"], "4")).startswith("Resolved: ")
    second = await _page(notifier, twilio, router_live, service, "tls handshake errors again")

    replayed = await asyncio.to_thread(twilio.incoming_sms, url, gus.addresses["sms"], "1", sid=sid)
    assert replayed.status == 200 and ET.fromstring(replayed.body).find("Message") is None  # no effect, no text
    assert await _status(router_live, second) == ("triggered", None, None)
    assert (await _status(router_live, first))[0] == "resolved"


async def test_a_person_who_left_the_configuration_is_told_the_router_refused(
    notifier: Notifier, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    """A refusal (403) is not "could not be reached, try again": the person is told why, and trying again is no use."""
    hana = Person(f"hana-{unique}", {"sms": number(unique, 4)})
    service = await router_live.add_service(unique, [[hana]])
    page = await _page(notifier, twilio, router_live, service, "backup overdue")
    await router_live.remove_service(unique)  # hana left: her team and her user are gone

    answer = await _reply(notifier, twilio, hana.addresses["sms"], f"1 {incident_ref(page.incident_id)}")
    assert answer.startswith(f"You may not acknowledge #{incident_ref(page.incident_id)} "), answer
    assert "not a user of the ownership configuration" in answer and answer.endswith("Nothing was changed.")
    assert await _status(router_live, page) == ("triggered", None, None)


async def test_answers_are_forgotten_after_a_week_and_a_replay_within_it_is_still_refused(
    notifier: Notifier, clock: OffsetClock, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    """``notifier_answer`` kept a row for every SMS reply, key press and Slack click, for ever. The retry worker
    now deletes, hourly, those older than the replay horizon (a week); a replay inside it is refused as before."""
    jo = Person(f"jo-{unique}", {"sms": number(unique, 6)})
    service = await router_live.add_service(unique, [[jo]])
    page = await _page(notifier, twilio, router_live, service, "nightly export late")
    url = f"{notifier.settings.public_url}/v1/twilio/sms/inbound"
    sid = "SM" + unique.ljust(32, "1")[:32]
    original = await asyncio.to_thread(twilio.incoming_sms, url, jo.addresses["sms"], "1", sid=sid)
    assert (ET.fromstring(original.body).findtext("Message") or "").startswith("Acknowledged: ")
    recent, old = answer_key("sms", sid), answer_key("sms", f"SM-old-{unique}")
    assert await claim(notifier.engine, old, clock.now() - KEEP - timedelta(days=1))
    async with notifier.engine.begin() as conn:  # the reply was six days ago: inside the horizon
        await conn.execute(
            text("UPDATE notifier_answer SET received_at = :at WHERE key = :key"),
            {"at": clock.now() - KEEP + timedelta(days=1), "key": recent},
        )

    clock.advance(PRUNE_EVERY)  # the worker's next pass prunes again

    async def remaining() -> set[str] | None:
        async with notifier.engine.connect() as conn:
            query = text("SELECT key FROM notifier_answer WHERE key IN (:recent, :old)")
            keys = set((await conn.execute(query, {"recent": recent, "old": old})).scalars())
        return keys if old not in keys else None

    assert await eventually(remaining, what="the claim older than a week pruned") == {recent}
    replayed = await asyncio.to_thread(twilio.incoming_sms, url, jo.addresses["sms"], "1", sid=sid)
    assert replayed.status == 200 and ET.fromstring(replayed.body).find("Message") is None  # refused: no text
    assert await _status(router_live, page) == ("acknowledged", jo.id, None)
