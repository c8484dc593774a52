"""Acknowledge links: signed and expiring; GET only confirms, POST acknowledges or resolves through the real
router's API as the person the link was made for. Bad tokens never reach the router: the incident is unchanged."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from alertrouter_notifier.ack_tokens import ExpiredToken, InvalidToken, LinkAction, issue, verify
from alertrouter_notifier.api.app import create_app
from alertrouter_notifier.links import LinkBuilder
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.database import make_engine
from alertrouter_shared.events import Page, PageKind
from tests.notifier.conftest import SettingsFactory
from tests.notifier.live import ROUTER_TOKEN, LiveRouter, Person
from tests.providers.base import Reply
from tests.providers.servers import CaptureServer

SECRET = "link-secret"


@dataclass
class Links:
    api: httpx.AsyncClient
    router: LiveRouter
    page: Page
    person: str

    def token(self, action: LinkAction = LinkAction.ACKNOWLEDGE, age: float = 0, incident: str = "") -> str:
        now = datetime.now(UTC) - timedelta(seconds=age)
        return issue(SECRET, incident or self.page.incident_id, self.person, action, now, timedelta(hours=1))

    async def incident(self) -> tuple[str, str | None, str | None]:
        found = (await self.router.incident(self.page.incident_id))["incident"]
        return found["status"], found["acknowledged_by"], found["resolved_by"]


@contextlib.asynccontextmanager
async def _api(settings: NotifierSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The notifier's API in-process, with the HTTP client it calls the router with."""
    engine = make_engine(settings.database_url)
    async with httpx.AsyncClient(timeout=5) as http:
        transport = httpx.ASGITransport(app=create_app(settings, engine, http=http))
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as api:
            yield api
    await engine.dispose()


@pytest.fixture
async def links(make_settings: SettingsFactory, router_live: LiveRouter, unique: str) -> AsyncIterator[Links]:
    olga = Person(f"olga-{unique}", {"webhook": "http://127.0.0.1:9/hooks/olga"})
    service = await router_live.add_service(unique, [[olga]])
    (page,) = await router_live.trigger(service, "login errors")
    settings = make_settings(ack_signing_secret=SECRET, router_url=router_live.url, router_api_token=ROUTER_TOKEN)
    async with _api(settings) as api:
        yield Links(api, router_live, page, olga.id)


async def test_get_shows_a_form_and_does_not_acknowledge(links: Links) -> None:
    response = await links.api.get(f"/acknowledge/{links.token()}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert '<form method="post">' in response.text
    assert links.page.incident_id in response.text and links.person in response.text
    assert await links.incident() == ("triggered", None, None)


async def test_post_acknowledges_then_resolves_as_the_linked_person(links: Links) -> None:
    acknowledged = await links.api.post(f"/acknowledge/{links.token()}")
    assert acknowledged.status_code == 200 and "is acknowledged" in acknowledged.text
    assert await links.incident() == ("acknowledged", links.person, None)
    again = await links.api.post(f"/acknowledge/{links.token()}")
    assert again.status_code == 409 and "already acknowledged" in again.text
    resolved = await links.api.post(f"/resolve/{links.token(LinkAction.RESOLVE)}")
    assert resolved.status_code == 200 and "is resolved" in resolved.text
    assert await links.incident() == ("resolved", links.person, links.person)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_tampered_token_is_rejected(links: Links, method: str) -> None:
    payload, mac = links.token().split(".")
    other_payload = links.token(incident="another-incident").split(".")[0]
    for forged in (f"{other_payload}.{mac}", f"{payload}.{mac[:-2]}xx", payload, "garbage"):
        response = await links.api.request(method, f"/acknowledge/{forged}")
        assert response.status_code == 403, forged
    assert await links.incident() == ("triggered", None, None)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_expired_token_is_rejected(links: Links, method: str) -> None:
    response = await links.api.request(method, f"/acknowledge/{links.token(age=3601)}")
    assert response.status_code == 410
    assert await links.incident() == ("triggered", None, None)


async def test_token_for_another_action_is_rejected(links: Links) -> None:
    response = await links.api.post(f"/acknowledge/{links.token(LinkAction.RESOLVE)}")
    assert response.status_code == 403
    assert await links.incident() == ("triggered", None, None)


async def test_unknown_incident_is_reported(links: Links) -> None:
    response = await links.api.post(f"/acknowledge/{links.token(incident='no-such-incident')}")
    assert response.status_code == 404 and "does not exist" in response.text


async def test_router_down_asks_to_try_again(make_settings: SettingsFactory) -> None:
    settings = make_settings(ack_signing_secret=SECRET, router_url="http://127.0.0.1:9")  # connection refused
    token = issue(SECRET, "inc-1", "alice", LinkAction.ACKNOWLEDGE, datetime.now(UTC), timedelta(hours=1))
    async with _api(settings) as api:
        response = await api.post(f"/acknowledge/{token}")
    assert response.status_code == 502 and "try again" in response.text


async def test_a_refusal_or_an_unconfirmed_change_is_said_as_it_is(make_settings: SettingsFactory) -> None:
    """A 403 is not "could not be reached, try again" (trying again is no use), and a router that took the request
    but gave no answer (a 5xx, a timeout) may have made the change: never "nothing was changed"."""
    refusal = (
        "user alice (teams: none) may not acknowledge incidents: they are not a user of the ownership configuration"
    )
    with CaptureServer() as router:
        router.script(
            Reply(403, {"status": 403, "detail": refusal}, {"Content-Type": "application/problem+json"}),
            Reply(500, {"status": 500, "detail": "internal error"}),
            Reply.timeout(5.5),  # the HTTP client here waits 5 s
        )
        settings = make_settings(ack_signing_secret=SECRET, router_url=router.url, router_api_token="notifier-token")
        token = issue(SECRET, "inc-1", "alice", LinkAction.ACKNOWLEDGE, datetime.now(UTC), timedelta(hours=1))
        async with _api(settings) as api:
            refused = await api.post(f"/acknowledge/{token}")
            failed = await api.post(f"/acknowledge/{token}")
            silent = await api.post(f"/acknowledge/{token}")
    assert refused.status_code == 403 and "You may not acknowledge incident" in refused.text
    assert "not a user of the ownership configuration" in refused.text and "try again" not in refused.text
    for unconfirmed in (failed, silent):
        assert unconfirmed.status_code == 502, unconfirmed.text
        assert "may or may not be acknowledged" in unconfirmed.text and "Nothing was changed" not in unconfirmed.text
        assert '<form method="post">' in unconfirmed.text  # the button, to find out


def test_tokens_bind_incident_user_action_and_expiry() -> None:
    now = datetime.now(UTC)
    token = issue(SECRET, "inc-9", "bob", LinkAction.RESOLVE, now, timedelta(minutes=5))
    claims = verify(SECRET, token, now)
    assert (claims.incident_id, claims.user_id, claims.action) == ("inc-9", "bob", LinkAction.RESOLVE)
    with pytest.raises(ExpiredToken):
        verify(SECRET, token, now + timedelta(minutes=5))
    with pytest.raises(InvalidToken):
        verify("another-secret", token, now)


async def test_links_in_messages_open_the_confirmation_page_and_act(links: Links) -> None:
    builder = LinkBuilder("http://notifier.test", SECRET, timedelta(hours=1))
    made = builder.for_page(links.page, datetime.now(UTC))
    path = made.acknowledge.removeprefix("http://notifier.test")
    assert (await links.api.get(path)).status_code == 200
    assert (await links.api.post(path)).status_code == 200
    assert await links.incident() == ("acknowledged", links.page.user_id, None)
    assert (
        builder.for_page(links.page.model_copy(update={"kind": PageKind.DIGEST}), datetime.now(UTC)).acknowledge == ""
    )
