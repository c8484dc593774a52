"""Acknowledge links: signed and expiring; GET only confirms, POST acknowledges through the router's API.

The token and page cases use a small local HTTP server answering like the router's incident actions (so they
can check what was called, and never reach it for a bad token); the last test acknowledges a real incident on
the real router.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from alertrouter_notifier.ack_tokens import ExpiredToken, InvalidToken, LinkAction, issue, verify
from alertrouter_notifier.api import create_app
from alertrouter_notifier.database import make_engine
from alertrouter_notifier.links import LinkBuilder
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.events import ContactMethodType, PageKind
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.live import ROUTER_TOKEN as LIVE_ROUTER_TOKEN
from tests.notifier.live import LiveRouter, Person
from tests.providers.servers import ProviderServer, Received, Reply

SECRET = "link-secret"
ROUTER_TOKEN = "router-write-token"
INCIDENT_PATH = re.compile(r"^/v1/incidents/([^/]+)/(acknowledge|resolve)$")


class RouterStandIn(ProviderServer):
    """Just the router's incident actions: bearer token checked, 404 for unknown incidents."""

    name = "router"
    known = frozenset({"inc-1", "inc-2"})

    def respond(self, request: Received) -> Reply:
        match = INCIDENT_PATH.match(request.path)
        if request.method != "POST" or not match:
            return Reply(404, {"detail": "no route"})
        if request.header("Authorization") != f"Bearer {ROUTER_TOKEN}":
            return Reply(401, {"detail": "token"})
        if match.group(1) not in self.known:
            return Reply(404, {"detail": "unknown incident"})
        return Reply(200, {"id": match.group(1), "status": f"{match.group(2)}d"})


@pytest.fixture
def router() -> Iterator[RouterStandIn]:
    with RouterStandIn() as server:
        yield server


def _settings(router_url: str) -> NotifierSettings:
    return NotifierSettings(
        ack_signing_secret=SECRET,
        router_url=router_url,
        router_api_token=ROUTER_TOKEN,
        public_url="http://notifier.test",
        database_url="postgresql+asyncpg://unused@127.0.0.1:1/unused",
    )


@pytest.fixture
async def client(router: RouterStandIn) -> AsyncIterator[httpx.AsyncClient]:
    settings = _settings(router.url)
    engine = make_engine(settings.database_url)
    async with httpx.AsyncClient(timeout=2) as http:
        app = create_app(settings, engine, http=http)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as api:
            yield api
    await engine.dispose()


def _token(incident: str = "inc-1", action: LinkAction = LinkAction.ACKNOWLEDGE, age: float = 0) -> str:
    now = datetime.now(UTC) - timedelta(seconds=age)
    return issue(SECRET, incident, "alice", action, now, timedelta(hours=1))


async def test_get_shows_a_form_and_does_not_acknowledge(client: httpx.AsyncClient, router: RouterStandIn) -> None:
    response = await client.get(f"/acknowledge/{_token()}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert '<form method="post">' in response.text
    assert "inc-1" in response.text and "alice" in response.text
    assert router.requests == []


async def test_post_acknowledges_through_the_router(client: httpx.AsyncClient, router: RouterStandIn) -> None:
    response = await client.post(f"/acknowledge/{_token()}")
    assert response.status_code == 200
    assert "acknowledged" in response.text
    (call,) = router.requests
    assert call.path == "/v1/incidents/inc-1/acknowledge"
    assert call.header("Authorization") == f"Bearer {ROUTER_TOKEN}"
    assert call.json() == {"by": "alice", "note": "acknowledged via link"}


async def test_resolve_link_resolves(client: httpx.AsyncClient, router: RouterStandIn) -> None:
    response = await client.post(f"/resolve/{_token('inc-2', LinkAction.RESOLVE)}")
    assert response.status_code == 200
    assert [r.path for r in router.requests] == ["/v1/incidents/inc-2/resolve"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_tampered_token_is_rejected(client: httpx.AsyncClient, router: RouterStandIn, method: str) -> None:
    payload, mac = _token().split(".")
    other_payload = _token("inc-2").split(".")[0]
    for forged in (f"{other_payload}.{mac}", f"{payload}.{mac[:-2]}xx", payload, "garbage"):
        response = await client.request(method, f"/acknowledge/{forged}")
        assert response.status_code == 403, forged
    assert router.requests == []


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_expired_token_is_rejected(client: httpx.AsyncClient, router: RouterStandIn, method: str) -> None:
    response = await client.request(method, f"/acknowledge/{_token(age=3601)}")
    assert response.status_code == 410
    assert router.requests == []


async def test_token_for_another_action_is_rejected(client: httpx.AsyncClient, router: RouterStandIn) -> None:
    response = await client.post(f"/acknowledge/{_token(action=LinkAction.RESOLVE)}")
    assert response.status_code == 403
    assert router.requests == []


async def test_unknown_incident_is_reported(client: httpx.AsyncClient, router: RouterStandIn) -> None:
    response = await client.post(f"/acknowledge/{_token('inc-404')}")
    assert response.status_code == 404
    assert len(router.requests) == 1


async def test_router_down_asks_to_try_again() -> None:
    settings = _settings("http://127.0.0.1:9")  # discard port: connection refused
    engine = make_engine(settings.database_url)
    async with httpx.AsyncClient(timeout=2) as http:
        transport = httpx.ASGITransport(app=create_app(settings, engine, http=http))
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as api:
            response = await api.post(f"/acknowledge/{_token()}")
    await engine.dispose()
    assert response.status_code == 502


def test_tokens_bind_incident_user_action_and_expiry() -> None:
    now = datetime.now(UTC)
    token = issue(SECRET, "inc-9", "bob", LinkAction.RESOLVE, now, timedelta(minutes=5))
    claims = verify(SECRET, token, now)
    assert (claims.incident_id, claims.user_id, claims.action) == ("inc-9", "bob", LinkAction.RESOLVE)
    with pytest.raises(ExpiredToken):
        verify(SECRET, token, now + timedelta(minutes=5))
    with pytest.raises(InvalidToken):
        verify("another-secret", token, now)


async def test_links_in_messages_open_the_confirmation_page(
    client: httpx.AsyncClient, router: RouterStandIn, make_page: PageFactory
) -> None:
    builder = LinkBuilder("http://notifier.test", SECRET, timedelta(hours=1))
    page = make_page(ContactMethodType.SMS, "+447700900123", incident_id="inc-1")
    links = builder.for_page(page, datetime.now(UTC))
    path = links.acknowledge.removeprefix("http://notifier.test")
    assert (await client.get(path)).status_code == 200
    assert (await client.post(path)).status_code == 200
    assert len(router.requests) == 1
    assert builder.for_page(page.model_copy(update={"kind": PageKind.DIGEST}), datetime.now(UTC)).acknowledge == ""


async def test_a_link_acknowledges_the_real_incident_as_the_paged_person(
    make_settings: SettingsFactory, router_live: LiveRouter, unique: str
) -> None:
    olga = Person(f"olga-{unique}", {"webhook": "http://127.0.0.1:9/hooks/olga"})
    service = await router_live.add_service(unique, [[olga]])
    (page,) = await router_live.trigger(service, "login errors")
    settings = make_settings(ack_signing_secret=SECRET, router_url=router_live.url, router_api_token=LIVE_ROUTER_TOKEN)
    links = LinkBuilder(settings.public_url, SECRET, timedelta(hours=1)).for_page(page, datetime.now(UTC))
    engine = make_engine(settings.database_url)
    async with httpx.AsyncClient(timeout=5) as http:
        transport = httpx.ASGITransport(app=create_app(settings, engine, http=http))
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as api:
            acknowledged = await api.post(links.acknowledge.removeprefix(settings.public_url))
            again = await api.post(links.acknowledge.removeprefix(settings.public_url))
    await engine.dispose()
    assert acknowledged.status_code == 200 and "is acknowledged" in acknowledged.text
    assert again.status_code == 409 and "already acknowledged" in again.text
    incident = (await router_live.incident(page.incident_id))["incident"]
    assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", olga.id)
