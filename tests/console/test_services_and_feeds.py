"""Services: a team admin creates and ends a maintenance window (recorded as them), a responder gets neither form;
Schedules: a calendar feed URL that serves the schedule; Why: "why was nobody paged" for an alert no rule routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.console.conftest import People, fire, screenshot, signed_in
from tests.helpers import eventually

pytestmark = [pytest.mark.db, pytest.mark.kafka]


async def test_a_team_admin_creates_and_ends_a_maintenance_window(
    browser: Browser, base_url: str, people: People, admin_api: httpx.AsyncClient, unique: str
) -> None:
    page = await signed_in(browser, base_url, people.alice)
    await page.goto("/ui/services/refunds")
    await expect(page.locator("dd", has_text="level")).to_have_text(re.compile(r": 1 level, not repeated$"))
    await page.get_by_label("For how many hours").fill("1.5")
    await page.get_by_label("Reason").fill(f"database upgrade {unique}")
    await page.get_by_role("button", name="Create window").click()
    await page.wait_for_url(re.compile(r".*/ui/services/refunds\?done=.*"))
    window = page.locator("li[data-window]", has_text=f"database upgrade {unique}")
    await expect(window).to_contain_text("by alice")
    window_id = await window.get_attribute("data-window")
    listed = (await admin_api.get("/v1/services/refunds/maintenance")).json()["created"]
    mine = next(w for w in listed if w["id"] == window_id)
    assert mine["created_by"] == "alice"
    await expect(page.get_by_test_id("more-windows")).to_have_count(0)  # all of them shown
    await screenshot(page, "service-maintenance-desktop")
    await window.get_by_role("button", name="End now").click()
    await page.get_by_role("button", name="End now", exact=True).click()  # the confirmation
    await page.wait_for_url(re.compile(r".*done=maintenance\+window\+ended"))
    await expect(page.locator("li[data-window]", has_text=f"database upgrade {unique}")).to_have_count(0)
    audit = (await admin_api.get("/v1/audit", params={"target_id": window_id})).json()["items"]
    assert {(a["action"], a["actor"]) for a in audit} == {("maintenance.create", "alice"), ("maintenance.end", "alice")}
    await page.context.close()

    responder = await signed_in(browser, base_url, people.bob)
    await responder.goto("/ui/services/refunds")
    await expect(responder.get_by_role("button", name="Create window")).to_have_count(0)
    await responder.context.close()


async def test_a_service_page_with_more_windows_than_it_shows_says_so(
    browser: Browser, base_url: str, people: People, admin_api: httpx.AsyncClient, unique: str
) -> None:
    """The page lists the API's first page of windows (100 by start): with more to come it must not look complete."""
    start = datetime.now(UTC) + timedelta(days=1)  # tomorrow's: nothing is suppressed now
    ids: list[str] = []
    try:
        for n in range(101):
            at = start + timedelta(minutes=n)
            body = {"starts_at": at.isoformat(), "ends_at": (at + timedelta(hours=1)).isoformat()}
            created = await admin_api.post("/v1/services/ledger/maintenance", json=body | {"reason": f"{unique} {n}"})
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        page = await signed_in(browser, base_url, people.alice)
        await page.goto("/ui/services/ledger")
        await expect(page.locator("li[data-window]", has_text=unique)).to_have_count(100)
        more = page.get_by_test_id("more-windows")
        await expect(more).to_have_text(
            "More windows than shown here: alertrouter maintenance list ledger lists them all."
        )
        await more.scroll_into_view_if_needed()
        await screenshot(page, "service-more-windows-desktop")
        await page.context.close()
    finally:
        for window_id in ids:
            assert (await admin_api.delete(f"/v1/services/ledger/maintenance/{window_id}")).status_code == 200


async def test_a_calendar_feed_url_from_the_schedule_page(browser: Browser, base_url: str, people: People) -> None:
    """The URL serves the schedule without a header, and the page names the feed to revoke (it said ``{id}``)."""
    page = await signed_in(browser, base_url, people.bob)
    await page.goto("/ui/schedules/payments-secondary")
    await page.get_by_role("button", name="Make a calendar feed URL").click()
    url = await page.get_by_test_id("feed-url").input_value()
    assert re.fullmatch(rf"{re.escape(base_url)}/calendar/[A-Za-z0-9_-]+\.ics", url), url
    revoke = re.fullmatch(
        r"DELETE (/v1/calendar-feeds/[0-9a-f-]{36})", await page.get_by_test_id("feed-revoke").inner_text()
    )
    assert revoke is not None
    await page.context.close()
    async with httpx.AsyncClient() as client:  # no cookie, no header: the URL is the credential
        feed = await client.get(url)
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        assert "BEGIN:VEVENT" in feed.text
        revoked = await client.delete(f"{base_url}{revoke[1]}", headers={"Authorization": f"Bearer {people.bob}"})
        assert revoked.status_code == 200, revoked.text
        assert (await client.get(url)).status_code == 404


async def test_why_was_nobody_paged(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    key = await fire(ingest, f"nosuch-{unique}", "Orphan", f"An alert no service owns ({unique})")

    async def decided() -> list[object]:
        return list((await admin_api.get("/v1/decisions", params={"dedup_key": key})).json()["items"])

    await eventually(decided, timeout=30, what=f"the decision on {key}")
    page = await signed_in(browser, base_url, people.vera)
    await page.goto("/ui/why")
    await page.get_by_label("only where nobody was paged").check()
    await page.get_by_role("button", name="Find").click()
    row = page.locator("tbody tr", has_text=key)
    await expect(row.locator(".outcome")).to_have_text("no_route")
    await page.get_by_label("Dedup key").fill(key)
    await page.get_by_role("button", name="Find").click()
    await page.locator("tbody tr a").first.click()
    await expect(page.get_by_test_id("explanation")).to_contain_text("No service matched")
    await expect(page.locator("h1 .outcome")).to_have_text("no_route")
    await page.context.close()


async def test_a_date_far_off_is_the_persons_to_correct_not_a_failure(
    browser: Browser, base_url: str, people: People, admin_api: httpx.AsyncClient
) -> None:
    """A mistyped year in the maintenance form (a window ending after 9999) or in Preview's "At" (before 1970)
    was a 500, "the router failed": now a 422 naming the field, and nothing is created."""
    page = await signed_in(browser, base_url, people.alice)
    await page.goto("/ui/services/refunds")
    await page.get_by_label("Starting").fill("9999-12-31T23:30")
    await page.get_by_label("For how many hours").fill("2")
    async with page.expect_response(re.compile(r".*/ui/services/refunds/maintenance$")) as answer:
        await page.get_by_role("button", name="Create window").click()
    assert (await answer.value).status == 422
    await expect(page.get_by_role("alert")).to_contain_text("starts_at:")
    created = (await admin_api.get("/v1/services/refunds/maintenance")).json()["created"]
    assert not [w for w in created if w["starts_at"].startswith("9999")]
    await page.goto("/ui/preview")
    await page.get_by_label("Labels").fill("service=checkout")
    await page.get_by_label("At (your time").fill("0001-01-01T00:00")
    async with page.expect_response(re.compile(r".*/ui/preview\?.*")) as answer:
        await page.get_by_role("button", name="Preview").click()
    assert (await answer.value).status == 422
    await expect(page.get_by_role("alert")).to_contain_text("at:")
    await page.context.close()


@pytest.mark.parametrize("forwarded", ["https", "https, http"])
async def test_behind_the_proxy_that_ends_tls_the_feed_url_is_https(
    base_url: str, people: People, admin_api: httpx.AsyncClient, forwarded: str
) -> None:
    """The feed URL is a credential: behind the proxy that ends TLS (``X-Forwarded-Proto: https``, which makes the
    session cookie Secure) it was shown as http://, so a calendar subscribed to it sent the secret in clear text;
    behind chained proxies (``https, http``: each hop appends its own) it still was. The proxy is not on the
    router's host (uvicorn believes forwarded headers only from 127.0.0.1): the request comes from 127.0.0.2, and
    the session cookie, Secure, is sent by hand over this plain-HTTP test connection."""

    async def feeds() -> set[str]:
        return {f["id"] for f in (await admin_api.get("/v1/calendar-feeds")).json()["items"]}

    before = await feeds()
    proxy = {"x-forwarded-proto": forwarded, "cookie": f"alertrouter_console={people.bob}"}
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    try:
        async with httpx.AsyncClient(base_url=base_url, transport=transport, headers=proxy) as client:
            schedule = await client.get("/ui/schedules/payments-secondary")
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', schedule.text)
            assert schedule.status_code == 200 and csrf is not None, schedule.text
            made = await client.post("/ui/schedules/payments-secondary/calendar-feed", data={"csrf": csrf[1]})
        url = re.search(r'value="([^"]*/calendar/[^"]+\.ics)"', made.text)
        assert url is not None and url[1].startswith(f"https://{httpx.URL(base_url).netloc.decode()}/calendar/"), url
    finally:
        for new in await feeds() - before:
            assert (await admin_api.delete(f"/v1/calendar-feeds/{new}")).status_code == 200


async def test_a_window_that_is_over_is_no_longer_listed(
    browser: Browser, base_url: str, people: People, admin_api: httpx.AsyncClient, unique: str
) -> None:
    """A created window stays ``active`` in its table once its end has passed: the service page went on listing
    it (with an "End now" button) as if the service were still in maintenance."""
    ends = datetime.now(UTC) + timedelta(seconds=2)
    body = {"ends_at": ends.isoformat(), "reason": f"brief restart {unique}"}
    created = await admin_api.post("/v1/services/refunds/maintenance", json=body)
    assert created.status_code == 201, created.text
    page = await signed_in(browser, base_url, people.alice)
    try:

        async def over() -> bool:
            if datetime.now(UTC) <= ends:
                return False
            await page.goto("/ui/services/refunds")
            return await page.locator("li[data-window]", has_text=unique).count() == 0

        await eventually(over, timeout=15, what="the window that is over to leave the service page")
    finally:
        await page.context.close()
        ended = await admin_api.delete(f"/v1/services/refunds/maintenance/{created.json()['id']}")
        assert ended.status_code == 200, ended.text
