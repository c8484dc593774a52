"""The notifier's OpenAPI document against the notifier: it validates; /v1/deliveries declares the bearer scheme
and the provider callbacks their signatures; a representative call of every documented operation (deliveries
with a cursor, Twilio's and Slack's signed callbacks, acknowledge links through the real router, health)
answers what the document says, errors and unknown routes as problem+json."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import orjson

from alertrouter_notifier.ack_tokens import LinkAction, issue
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType
from tests.helpers import eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.live import ROUTER_TOKEN, LiveRouter, Person
from tests.notifier.support import ACK_SECRET, TWILIO_TOKEN, WRITE_ONLY_TOKEN, api_client, auth, produce_pages
from tests.openapi_contract import Contract, check_document, check_unknown_routes
from tests.providers.servers import CaptureServer
from tests.providers.slack import slack_signature
from tests.providers.twilio import twilio_signature

SLACK_SECRET = "contract-slack-secret"


async def test_every_operation_answers_as_documented(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    capture: CaptureServer,
    router_live: LiveRouter,
    unique: str,
) -> None:
    settings = make_settings(
        router_url=router_live.url, router_api_token=ROUTER_TOKEN, slack_signing_secret=SLACK_SECRET
    )
    pages = [make_page(ContactMethodType.WEBHOOK, f"{capture.url}/hook") for _ in range(2)]
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        document = (await client.get("/openapi.json")).json()
        check_document(document)
        schemes = document["components"]["securitySchemes"]
        assert set(schemes) == {"bearerToken", "twilioSignature", "slackSignature"}
        contract = Contract(document)
        check = contract.check
        for path in ("/healthz", "/readyz", "/metrics"):
            check(await client.get(path))

        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, pages)

        async def delivered() -> bool:
            found = await client.get("/v1/deliveries", params={"incident": pages[0].incident_id}, headers=auth())
            return len(found.json()["items"]) == 2

        await eventually(delivered, what="two deliveries recorded")
        first = check(
            await client.get("/v1/deliveries", params={"incident": pages[0].incident_id, "limit": 1}, headers=auth())
        )
        params = {"incident": pages[0].incident_id, "limit": 1, "cursor": first.json()["next_cursor"]}
        assert check(await client.get("/v1/deliveries", params=params, headers=auth())).json()["items"]

        check(await client.post("/v1/providers/check", json={"channels": ["webhook"]}, headers=auth()))

        base = settings.public_url
        for path, fields in (
            ("/v1/twilio/status", {"MessageSid": f"SM{unique}", "MessageStatus": "delivered"}),
            ("/v1/twilio/voice/status", {"CallSid": f"CA{unique}", "CallStatus": "completed"}),
            ("/v1/twilio/voice/gather", {"CallSid": f"CA{unique}", "Digits": "4"}),
            ("/v1/twilio/sms/inbound", {"From": "+15005550006", "Body": "ACK", "MessageSid": f"SM{unique}"}),
        ):
            signature = twilio_signature(TWILIO_TOKEN, base + path, fields)
            check(await client.post(path, content=urlencode(fields), headers=_form({"X-Twilio-Signature": signature})))
        forged = check(
            await client.post("/v1/twilio/status", content="a=b", headers=_form({"X-Twilio-Signature": "x"}))
        )
        assert forged.status_code == 403

        body = urlencode({"payload": orjson.dumps({"type": "view_submission", "user": {"id": "U1"}}).decode()})
        stamp = str(int(time.time()))
        slack = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": slack_signature(SLACK_SECRET, stamp, body.encode()),
        }
        check(await client.post("/v1/slack/interactions", content=body, headers=_form(slack)))
        assert check(await client.post("/v1/slack/interactions", content=body, headers=_form({}))).status_code == 401

        await _ack_links(client, contract, router_live, unique)

        assert check(await client.get("/v1/deliveries")).status_code == 401
        assert check(await client.get("/v1/deliveries", headers=auth(WRITE_ONLY_TOKEN))).status_code == 403
        invalid = check(await client.get("/v1/deliveries", params={"limit": 0}, headers=auth()))
        assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "query.limit"
        assert check(await client.get("/v1/deliveries", params={"cursor": "nope"}, headers=auth())).status_code == 422
        await check_unknown_routes(client, contract)
        assert contract.uncovered() == [], "operations without a checked call: add one here"


async def _ack_links(client: httpx.AsyncClient, contract: Contract, router: LiveRouter, unique: str) -> None:
    """Both link actions, GET (confirm) and POST (act through the real router) on a real incident."""
    person = Person(f"ola-{unique}", {"webhook": "http://127.0.0.1:9/hooks/ola"})
    service = await router.add_service(unique, [[person]])
    (page,) = await router.trigger(service, "contract")
    now = datetime.now(UTC)
    for action in (LinkAction.ACKNOWLEDGE, LinkAction.RESOLVE):
        token = issue(ACK_SECRET, page.incident_id, person.id, action, now, timedelta(hours=1))
        contract.check(await client.get(f"/{action.value}/{token}"))
        acted = contract.check(await client.post(f"/{action.value}/{token}"))
        assert acted.status_code == 200, acted.text
    assert contract.check(await client.get("/acknowledge/not-a-token")).status_code == 403


def _form(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded", **headers}
