"""Signing in and out over plain HTTP: the cookie's flags, the double-submitted sign-in value, people only, a
revoked token ending the session at once, the security headers, and the console's rule table."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from fastapi import APIRouter
from playwright.async_api import Browser, expect

from alertrouter_router.api.permissions import CONSOLE, RULES, check_console_complete
from alertrouter_router.console.forms import MAX_FORM_BYTES
from alertrouter_router.console.routes import PAGES
from tests.console.conftest import PHONE, People, signed_in
from tests.router.access_support import new_token
from tests.router.conftest import TOKEN

pytestmark = [pytest.mark.db, pytest.mark.kafka]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def sign_in(client: httpx.AsyncClient, token: str, next_path: str = "/ui/", **headers: str) -> httpx.Response:
    form = await client.get("/ui/sign-in", params={"next": next_path}, headers=headers)
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
    assert nonce is not None and client.cookies.get("alertrouter_console_sign_in") == nonce[1]
    return await client.post(
        "/ui/sign-in", data={"token": token, "nonce": nonce[1], "next": next_path}, headers=headers
    )


async def test_a_session_cookie_that_scripts_cannot_read(base_url: str, people: People) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        signed = await sign_in(client, people.bob, "/ui/incidents?team=payments")
        assert signed.status_code == 303 and signed.headers["location"] == "/ui/incidents?team=payments"
        cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("alertrouter_console="))
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/ui"} <= flags and "secure" not in flags
        page = await client.get("/ui/incidents")
        assert page.status_code == 200 and "bob · responder" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
        assert csrf is not None
        forged = await client.post("/ui/sign-out", data={})  # another site's form: no CSRF token
        assert forged.status_code == 403 and "set-cookie" not in forged.headers
        out = await client.post("/ui/sign-out", data={"csrf": csrf[1]})
        assert out.status_code == 303 and 'alertrouter_console=""' in out.headers["set-cookie"]
    async with httpx.AsyncClient(base_url=base_url) as client:  # behind a proxy ending TLS: Secure cookies
        proxies = [
            {"x-forwarded-proto": "https"},
            {"x-forwarded-proto": "https, http"},  # behind chained proxies: the first hop's is the browser's
            {"forwarded": "for=192.0.2.60;proto=https, for=10.0.0.1;proto=http"},  # RFC 7239 (Envoy, Traefik)
        ]
        for headers in proxies:
            behind_tls = await client.get("/ui/sign-in", headers=headers)
            flags = {part.strip().lower() for part in behind_tls.headers["set-cookie"].split(";")}
            assert "secure" in flags, headers


async def test_who_may_not_sign_in(base_url: str, people: People) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        anonymous = await client.get("/ui/why?dedup_key=x")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/ui/sign-in?next=%2Fui%2Fwhy%3Fdedup_key%3Dx"
        machine = await sign_in(client, TOKEN)
        assert machine.status_code == 403 and "the console is for people" in machine.text
        wrong = await sign_in(client, "art_not-a-token")
        assert wrong.status_code == 401 and "not valid" in wrong.text
        offsite = await sign_in(client, people.bob, "https://evil.example/ui/")
        assert offsite.headers["location"] == "/ui/"
    async with httpx.AsyncClient(base_url=base_url) as client:
        forged = await client.post("/ui/sign-in", data={"token": people.bob, "nonce": "guessed"})
        assert forged.status_code == 400 and "alertrouter_console=" not in forged.headers.get("set-cookie", "")


async def test_a_csrf_value_nonce_or_signature_with_any_character_is_refused_not_failed(
    base_url: str, people: People
) -> None:
    """``hmac.compare_digest`` raises TypeError for a str with a character outside ASCII: a forged form's CSRF
    token, a sign-in nonce or a link's ``sig`` of that kind answered 500 and logged an unhandled error."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await sign_in(client, people.bob)).status_code == 303
        for path in ("/ui/incidents/no-such-incident/notes", "/ui/sign-out"):
            forged = await client.post(path, data={"csrf": "é" * 64, "note": "forged"})
            assert forged.status_code == 403 and "CSRF token is missing or not this session" in forged.text, path
        linked = await client.get("/ui/services/checkout", params={"done": "all pages deleted", "sig": "é"})
        assert linked.status_code == 200 and "all pages deleted" not in linked.text
    async with httpx.AsyncClient(base_url=base_url) as client:
        await client.get("/ui/sign-in")
        forged = await client.post("/ui/sign-in", data={"token": people.bob, "nonce": "é"})
        assert forged.status_code == 400 and "alertrouter_console=" not in forged.headers.get("set-cookie", "")


async def test_a_form_larger_than_any_console_form_is_refused_unread(base_url: str) -> None:
    """The sign-in form is read before anyone is signed in: the answer comes once the limit is passed, while the
    client has not finished sending (before, the whole body was read first, however large)."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        head = f"POST /ui/sign-in HTTP/1.1\r\nHost: {url.host}\r\nTransfer-Encoding: chunked\r\n"
        writer.write(f"{head}Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
        chunk = b"a" * (MAX_FORM_BYTES + 1)
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))  # more to come: no last chunk
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413 ")
    async with httpx.AsyncClient(base_url=base_url) as client:  # a declared length over the limit: the same
        declared = await client.post("/ui/sign-in", content=b"a" * (MAX_FORM_BYTES + 1), headers=FORM)
    assert declared.status_code == 413 and "the form is too large" in declared.text


async def test_revoking_the_token_ends_the_session(base_url: str, admin_api: httpx.AsyncClient) -> None:
    token = await new_token(admin_api, user="carol", role="viewer", description="console revocation test")
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await sign_in(client, token)).status_code == 303
        assert (await client.get("/ui/services")).status_code == 200
        mine = [t for t in (await admin_api.get("/v1/tokens")).json()["items"] if t["description"].endswith("test")]
        for item in mine:
            await admin_api.delete(f"/v1/tokens/{item['id']}")
        after = await client.get("/ui/services")
        assert after.status_code == 303 and after.headers["location"].startswith("/ui/sign-in?next=%2Fui%2Fservices")


def test_every_console_route_stands_for_an_api_rule() -> None:
    routers = [module.router for module in PAGES]
    check_console_complete(routers)
    assert all(api in RULES for api in CONSOLE.values())
    added = APIRouter(prefix="/ui/incidents")

    @added.post("/{incident_id}/merge")
    async def merge(incident_id: str) -> None: ...

    with pytest.raises(
        RuntimeError, match=r"without the API route they stand for.*/ui/incidents/\{incident_id\}/merge"
    ):
        check_console_complete([*routers, added])


async def test_a_failure_of_the_router_is_a_page_not_json(browser: Browser, base_url: str, people: People) -> None:
    """A request the router refuses in its error handlers (here a NUL character PostgreSQL cannot look up;
    equally a database gone away) or a console page that does not exist answered the API's problem+json, shown
    raw on a phone: now an HTML page that says why, with the same status. The API's own answers stay
    problem+json."""
    page = await signed_in(browser, base_url, people.bob, PHONE)
    csrf = await page.locator("form.signout input[name=csrf]").get_attribute("value")
    failed = await page.request.post("/ui/incidents/%00/acknowledge", form={"csrf": csrf or ""})
    assert failed.status == 422 and failed.headers["content-type"].startswith("text/html")
    await page.set_content(await failed.text())
    await expect(page.get_by_role("alert")).to_contain_text("contains a NUL character (U+0000)")
    missing = await page.goto("/ui/incidentz")
    assert missing is not None and missing.status == 404
    await expect(page.get_by_role("alert")).to_have_text("404: Not Found")
    await page.context.close()
    async with httpx.AsyncClient(base_url=base_url) as client:
        api = await client.get("/v1/incidentz")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


async def test_a_mistyped_token_keeps_the_way_back_to_the_page(browser: Browser, base_url: str, people: People) -> None:
    """A person following a link (the page they received) who pasted a wrong token got an error page whose only
    way on was "Back to Now": the link was lost. The form is shown again with the reason, still leading there."""
    context = await browser.new_context(base_url=base_url, viewport=PHONE)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto("/ui/schedules/payments-primary")
    await page.get_by_label("Token").fill("art_mistyped")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("that token is not valid")
    await expect(page.get_by_label("Token")).to_be_visible(timeout=5000)
    await page.get_by_label("Token").fill(people.bob)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base_url}/ui/schedules/payments-primary")
    await context.close()
