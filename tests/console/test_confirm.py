"""Resolve and Escalate now ask first: one tap (a thumb at night, a phone in a pocket) only shows what would
happen, and the confirming button acts; a post without the confirmation is answered with the question, not acted
on. The API's routes are unchanged: ``POST /v1/incidents/{id}/resolve`` still acts at one call. Ending a
maintenance window, which starts paging again, asks the same way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.console.conftest import PHONE, People, fire, incident_of, resolve_all, screenshot, signed_in

pytestmark = [pytest.mark.db, pytest.mark.kafka]


async def _acts(admin_api: httpx.AsyncClient, incident: str) -> list[tuple[str, str]]:
    """What the audit trail records done to the incident, by whom."""
    audit = (await admin_api.get("/v1/audit", params={"target_id": incident})).json()["items"]
    return [(a["action"], a["actor"]) for a in audit]


async def test_one_tap_on_resolve_asks_and_only_the_confirmation_resolves(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Tap", f"Checkout resolve tap ({unique})"))
    page = await signed_in(browser, base_url, people.bob, PHONE)
    try:
        await page.goto(f"/ui/incidents/{incident}")
        await page.get_by_role("button", name="Resolve").click()
        await expect(page.get_by_role("heading", name="Resolve this incident?")).to_be_visible()
        await expect(page.get_by_text("Paging stops")).to_be_visible()
        await screenshot(page, "incident-confirm-resolve-phone")
        state = (await admin_api.get(f"/v1/incidents/{incident}")).json()["incident"]
        assert state["status"] == "triggered" and await _acts(admin_api, incident) == []
        await page.get_by_role("link", name="Cancel").click()
        await page.wait_for_url(f"{base_url}/ui/incidents/{incident}")
        await expect(page.get_by_test_id("status")).to_have_text("triggered")
        await page.get_by_role("button", name="Resolve").click()
        await page.get_by_role("button", name="Resolve", exact=True).click()
        await page.wait_for_url(re.compile(rf".*/ui/incidents/{incident}\?done=.*"))
        await expect(page.get_by_test_id("status")).to_have_text("resolved")
        await expect(page.get_by_role("status")).to_have_text("Done: resolved by bob")
        assert (await admin_api.get(f"/v1/incidents/{incident}")).json()["incident"]["status"] == "resolved"
    finally:
        await page.context.close()
        await resolve_all(admin_api, {incident})


async def test_one_tap_on_escalate_now_asks_and_only_the_confirmation_pages(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Tap", f"Checkout escalate tap ({unique})"))
    page = await signed_in(browser, base_url, people.bob, PHONE)
    try:
        await page.goto(f"/ui/incidents/{incident}")
        await page.get_by_role("button", name="Escalate now").click()
        await expect(page.get_by_role("heading", name="Escalate this incident now?")).to_be_visible()
        await screenshot(page, "incident-confirm-escalate-phone")
        assert await _acts(admin_api, incident) == []
        await page.get_by_role("button", name="Escalate now", exact=True).click()
        await page.wait_for_url(re.compile(rf".*/ui/incidents/{incident}\?done=.*"))
        await expect(page.locator("#timeline li.tl-page", has_text="(level 2, round")).to_be_visible()
        assert await _acts(admin_api, incident) == [("incident.escalate", "bob")]
    finally:
        await page.context.close()
        await resolve_all(admin_api, {incident})


@pytest.mark.parametrize("action", ["resolve", "escalate"])
async def test_the_confirm_form_carries_csrf_and_a_post_without_the_confirmation_only_asks(
    base_url: str, people: People, ingest: httpx.AsyncClient, admin_api: httpx.AsyncClient, unique: str, action: str
) -> None:
    """A form posted without ``confirmed=yes`` (a page loaded before the question existed, a hand-written post)
    is sent to the question rather than acted on; the question is refused to whoever may not act."""
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Ask", f"Checkout {action} ({unique})"))
    url = f"/ui/incidents/{incident}/{action}"
    try:
        async with httpx.AsyncClient(base_url=base_url, headers={"cookie": f"alertrouter_console={people.bob}"}) as c:
            asked = await c.get(url)
            form = re.search(rf'<form class="buttons" method="post" action="{url}">(.*?)</form>', asked.text, re.S)
            assert asked.status_code == 200 and form is not None, asked.text
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', form[1])
            assert csrf is not None and 'name="confirmed" value="yes"' in form[1]
            unconfirmed = await c.post(url, data={"csrf": csrf[1]})
            assert (unconfirmed.status_code, unconfirmed.headers["location"]) == (303, url)
            forged = await c.post(url, data={"confirmed": "yes"})
            assert forged.status_code == 403 and "CSRF" in forged.text
            other = await c.get(url, headers={"cookie": f"alertrouter_console={people.dave}"})
            assert other.status_code == 403
            assert await _acts(admin_api, incident) == []
            done = await c.post(url, data={"csrf": csrf[1], "confirmed": "yes"})
            assert done.status_code == 303 and done.headers["location"].startswith(f"/ui/incidents/{incident}?done=")
        assert await _acts(admin_api, incident) == [(f"incident.{action}", "bob")]
    finally:
        await resolve_all(admin_api, {incident})


async def test_a_confirmation_sent_twice_escalates_once(
    base_url: str, people: People, ingest: httpx.AsyncClient, admin_api: httpx.AsyncClient, unique: str
) -> None:
    """The confirm page asks from the level it showed: sent again (a double tap, a reload that resends), or
    confirmed after the timer escalated, it escalated once more, from wherever the incident then was."""
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Twice", f"Checkout twice ({unique})"))
    url = f"/ui/incidents/{incident}/escalate"
    try:
        async with httpx.AsyncClient(base_url=base_url, headers={"cookie": f"alertrouter_console={people.bob}"}) as c:
            asked = await c.get(url)
            assert 'name="from_level" value="1"' in asked.text, asked.text
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', asked.text)
            assert csrf is not None
            for _ in range(2):
                sent = await c.post(url, data={"csrf": csrf[1], "confirmed": "yes", "from_level": "1"})
                assert sent.status_code == 303, sent.text
        decided = (await admin_api.get("/v1/decisions", params={"incident": incident})).json()["items"]
        manual = [d["reason"] for d in decided if d["kind"] == "manual"]
        # one escalation: the second asked from level 1 and changed nothing ("no level follows level 2", before)
        assert len(manual) == 1 and "paged level 2" in manual[0], manual
        assert (await admin_api.get(f"/v1/incidents/{incident}")).json()["incident"]["last_level"] == 1
    finally:
        await resolve_all(admin_api, {incident})


async def test_ending_a_maintenance_window_asks_first(
    browser: Browser, base_url: str, people: People, admin_api: httpx.AsyncClient, unique: str
) -> None:
    """Ending a window pages at once for the alerts it held back: "End now" was one tap too."""
    ends = datetime.now(UTC) + timedelta(hours=1)
    created = await admin_api.post(
        "/v1/services/refunds/maintenance", json={"ends_at": ends.isoformat(), "reason": f"reindex {unique}"}
    )
    assert created.status_code == 201, created.text
    window_id = created.json()["id"]
    url = f"/ui/services/refunds/maintenance/{window_id}/end"

    async def still_on() -> bool:
        listed = (await admin_api.get("/v1/services/refunds/maintenance")).json()["created"]
        return window_id in {w["id"] for w in listed}

    page = await signed_in(browser, base_url, people.alice, PHONE)
    try:
        await page.goto("/ui/services/refunds")
        await page.locator("li[data-window]", has_text=unique).get_by_role("button", name="End now").click()
        await expect(page.get_by_role("heading", name="End this maintenance window now?")).to_be_visible()
        await expect(page.get_by_text(f"reindex {unique}")).to_be_visible()
        await screenshot(page, "service-confirm-end-window-phone")
        assert await still_on()
        csrf = await page.locator("form.signout input[name=csrf]").get_attribute("value")
        assert csrf
        unconfirmed = await page.request.post(url, form={"csrf": csrf}, max_redirects=0)
        assert (unconfirmed.status, unconfirmed.headers["location"]) == (303, url)
        assert await still_on()
        await page.get_by_role("button", name="End now", exact=True).click()
        await page.wait_for_url(re.compile(r".*done=maintenance\+window\+ended"))
        assert not await still_on()
        await page.goto(url)  # asked again (a second tab, the back button): nothing left to end
        await expect(page.get_by_text("This window is over or was ended already")).to_be_visible()
    finally:
        await page.context.close()
        if await still_on():
            ended = await admin_api.delete(f"/v1/services/refunds/maintenance/{window_id}")
            assert ended.status_code == 200, ended.text
