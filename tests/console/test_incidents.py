"""Incidents in the browser: an alert sent to ingest appears without a reload; acknowledging from the incident
page shows in the timeline as that person; a responder of another team gets no button and a forged POST is 403."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from alertrouter_router.console.incident_pages import PAGE
from tests.console.conftest import (
    PHONE,
    People,
    fire,
    fire_many,
    incident_of,
    incidents_of,
    resolve_all,
    screenshot,
    signed_in,
)
from tests.router.access_support import new_token

pytestmark = [pytest.mark.db, pytest.mark.kafka]


async def test_an_alert_sent_to_ingest_appears_without_a_reload(
    browser: Browser, base_url: str, people: People, ingest: httpx.AsyncClient, unique: str
) -> None:
    page = await signed_in(browser, base_url, people.bob)
    await page.goto("/ui/incidents?team=payments&status=open")
    await page.evaluate("window.loadedOnce = 'still the same document'")
    summary = f"Checkout 5xx above 5% ({unique})"
    await fire(ingest, "checkout", "HighErrorRate", summary)
    row = page.locator("#incident-rows tr", has_text=summary)
    await expect(row).to_be_visible(timeout=30_000)
    await expect(row.locator(".status")).to_have_text("triggered")
    assert await page.evaluate("window.loadedOnce") == "still the same document"  # no reload happened
    await screenshot(page, "incidents-live-desktop")
    await page.context.close()


async def test_acknowledge_from_the_incident_page_shows_who_in_the_timeline(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    key = await fire(ingest, "checkout", "LatencyHigh", f"Checkout p99 above 2s ({unique})")
    incident = await incident_of(admin_api, key)
    page = await signed_in(browser, base_url, people.bob)
    await page.goto(f"/ui/incidents/{incident}")
    await expect(page.get_by_test_id("status")).to_have_text("triggered")
    await page.get_by_role("button", name="Acknowledge").click()
    await page.wait_for_url(re.compile(rf".*/ui/incidents/{incident}\?done=.*"))
    await expect(page.get_by_test_id("status")).to_have_text("acknowledged")
    await expect(page.get_by_role("status")).to_have_text("Done: acknowledged by bob")
    entry = page.locator("#timeline li.tl-decision", has_text="acknowledged by bob")
    await expect(entry).to_be_visible()
    await expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    await page.get_by_label("Add a note").fill("rolling back the deploy")
    await page.get_by_role("button", name="Add note").click()
    await expect(page.locator("#timeline li", has_text="note by bob: rolling back the deploy")).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("Done: note added")
    await screenshot(page, "incident-acknowledged-desktop")
    state = (await admin_api.get(f"/v1/incidents/{incident}")).json()["incident"]
    assert (state["status"], state["acknowledged_by"]) == ("acknowledged", "bob")
    audit = (await admin_api.get("/v1/audit", params={"target_id": incident})).json()["items"]
    assert {(a["action"], a["actor"]) for a in audit} >= {("incident.acknowledge", "bob"), ("incident.note", "bob")}
    await page.context.close()


async def test_another_teams_responder_has_no_button_and_a_forged_post_is_refused(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    key = await fire(ingest, "checkout", "DiskFull", f"Checkout disk full ({unique})")
    incident = await incident_of(admin_api, key)
    page = await signed_in(browser, base_url, people.dave)
    await page.goto(f"/ui/incidents/{incident}")
    await expect(page.get_by_test_id("status")).to_have_text("triggered")
    await expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    await expect(page.get_by_role("button", name="Add note")).to_have_count(0)
    # dave's own session's CSRF token (from the sign-out form every page carries), posted by hand
    csrf = await page.locator("form.signout input[name=csrf]").get_attribute("value")
    assert csrf
    forged = await page.request.post(f"/ui/incidents/{incident}/acknowledge", form={"csrf": csrf})
    assert forged.status == 403
    body = await forged.text()
    assert "user dave (responder; teams: platform) may not acknowledge incidents of team payments" in body
    no_csrf = await page.request.post(f"/ui/incidents/{incident}/acknowledge", form={"csrf": "x" * 64})
    assert no_csrf.status == 403 and "CSRF" in await no_csrf.text()
    state = (await admin_api.get(f"/v1/incidents/{incident}")).json()["incident"]
    assert state["status"] == "triggered"
    await page.context.close()


async def test_snooze_reassign_and_escalate_from_the_incident_page(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Slow", f"Checkout slow ({unique})"))
    page = await signed_in(browser, base_url, people.bob)
    await page.goto(f"/ui/incidents/{incident}")
    await page.get_by_label("Snooze for (minutes)").fill("15")
    await page.get_by_role("button", name="Snooze").click()
    await expect(page.get_by_test_id("status")).to_have_text("acknowledged")
    await expect(page.locator("#timeline li", has_text="snoozed by bob")).to_be_visible()
    # the reason's instant in bob's zone (America/New_York), as every other time of the page: it was UTC ISO 8601
    when = re.compile(r"paged again at \w{3} \d{1,2} \w{3} \d\d:\d\d E[SD]T unless resolved")
    await expect(page.get_by_role("status")).to_have_text(when)
    await expect(page.locator("#timeline li", has_text="snoozed by bob")).to_have_text(when)
    await page.get_by_label("Reassign to").select_option("user:carol")
    await page.get_by_role("button", name="Reassign").click()
    await expect(page.get_by_test_id("status")).to_have_text("triggered")
    await expect(page.locator("#timeline li.tl-page", has_text="to carol via carol-hook (reassign)")).to_be_visible()
    await page.get_by_role("button", name="Escalate now").click()
    await page.get_by_role("button", name="Escalate now", exact=True).click()  # the confirmation
    await expect(page.locator("#timeline li.tl-page", has_text="(level 2, round")).to_be_visible()
    audit = (await admin_api.get("/v1/audit", params={"target_id": incident})).json()["items"]
    actions = {(a["action"], a["actor"]) for a in audit}
    assert actions >= {("incident.snooze", "bob"), ("incident.reassign", "bob"), ("incident.escalate", "bob")}
    await page.context.close()


async def test_a_link_cannot_make_a_page_say_something_was_done(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """ "Done: resolved by alice" on a triggered incident, or a sign-in page telling one to paste the token
    elsewhere, came from a link anyone could write: only the console's own messages are shown now."""
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Spoof", f"Checkout spoof ({unique})"))
    bob = await signed_in(browser, base_url, people.bob)
    dave = await signed_in(browser, base_url, people.dave)
    try:
        await bob.goto(f"/ui/incidents/{incident}?done=resolved+by+alice")
        await expect(bob.get_by_test_id("status")).to_have_text("triggered")
        await expect(bob.locator("p.flash")).to_have_count(0)
        await bob.get_by_role("button", name="Acknowledge").click()
        await expect(bob.get_by_role("status")).to_have_text("Done: acknowledged by bob")
        await dave.goto(bob.url)  # bob's own answer, sent to someone else: not dave's action
        await expect(dave.get_by_test_id("status")).to_have_text("acknowledged")
        await expect(dave.locator("p.flash")).to_have_count(0)
        await dave.goto("/ui/sign-in?message=Your+token+expired:+paste+it+at+https://evil.example")
        await expect(dave.get_by_label("Token")).to_be_visible()
        await expect(dave.locator("p.flash")).to_have_count(0)
        await dave.goto("/ui/sign-in?message=signed+out")
        await expect(dave.locator("p.flash")).to_have_text("signed out")
    finally:
        await bob.context.close()
        await dave.context.close()
        await resolve_all(admin_api, {incident})


async def test_an_action_after_the_session_ended_says_it_was_not_done(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """Acknowledge pressed after the token was revoked (or expired) led to the sign-in page with nothing said,
    then to Now: the person could believe it was done. Now the sign-in page says it was not, and signing in again
    leads back to the incident."""
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Ended", f"Checkout ended ({unique})"))
    token = await new_token(admin_api, user="bob", role="responder", description=f"session end {unique}")
    page = await signed_in(browser, base_url, token)
    try:
        await page.goto(f"/ui/incidents/{incident}")
        await expect(page.get_by_test_id("status")).to_have_text("triggered")
        mine = [t for t in (await admin_api.get("/v1/tokens")).json()["items"] if t["description"].endswith(unique)]
        assert [(await admin_api.delete(f"/v1/tokens/{t['id']}")).status_code for t in mine] == [200]
        await page.get_by_role("button", name="Acknowledge").click()
        await expect(page.get_by_role("status")).to_have_text(
            "your session has ended, so that was not done: sign in and do it again"
        )
        await page.get_by_label("Token").fill(people.bob)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{base_url}/ui/incidents/{incident}")
        await expect(page.get_by_test_id("status")).to_have_text("triggered")
    finally:
        await page.context.close()
        await resolve_all(admin_api, {incident})


async def test_escalate_now_with_no_level_left_does_not_say_done(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """refunds' policy has one level, not repeated: "Escalate now" pages nobody more. The page said "Done: escalated
    by bob; no level follows level 1 ...", an escalation that did not happen."""
    incident = await incident_of(admin_api, await fire(ingest, "refunds", "Last", f"Refunds last level ({unique})"))
    page = await signed_in(browser, base_url, people.bob)
    try:
        await page.goto(f"/ui/incidents/{incident}")
        await page.get_by_role("button", name="Escalate now").click()
        await page.get_by_role("button", name="Escalate now", exact=True).click()  # the confirmation
        await page.wait_for_url(re.compile(rf".*/ui/incidents/{incident}\?done=.*"))
        await expect(page.get_by_role("status")).to_have_text(
            "Done: nothing changed (escalated by bob; no level follows level 1 in policy refunds-default)"
        )
        await expect(page.get_by_test_id("status")).to_have_text("triggered")
    finally:
        await page.context.close()
        await resolve_all(admin_api, {incident})


async def test_more_incidents_than_a_page_says_so_and_links_the_older_ones(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """In an alert storm the list showed the newest 100 and nothing more: the oldest open incidents, those waiting
    longest, were missing without a word. Past a page the list says so and links the older ones."""
    storm = await incidents_of(admin_api, "ledger", await fire_many(ingest, "ledger", PAGE + 1, unique))
    page = await signed_in(browser, base_url, people.dave)
    try:
        await page.goto("/ui/incidents?team=platform&service=ledger&status=open")
        rows = page.locator("#incident-rows tr[data-incident]")
        await expect(rows).to_have_count(PAGE)
        first = set(await rows.evaluate_all("rows => rows.map(r => r.dataset.incident)"))
        await page.get_by_test_id("more").get_by_role("link", name="older incidents that match").click()
        await expect(rows.first).to_be_visible()
        older = set(await rows.evaluate_all("rows => rows.map(r => r.dataset.incident)"))
        assert older and not older & first and storm <= first | older
    finally:
        await page.context.close()
        await resolve_all(admin_api, storm)


async def test_the_incident_pages_status_follows_an_action_taken_elsewhere(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """The timeline refreshed itself but the status and the buttons above it did not: acknowledged, triggered
    again or resolved elsewhere (Slack, the API, a snooze running out), the page went on showing the status and
    the buttons of when it was loaded. Now they refresh like the timeline."""
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Stale", f"Checkout stale ({unique})"))
    acknowledged = await admin_api.post(f"/v1/incidents/{incident}/acknowledge", json={})
    assert acknowledged.status_code == 200, acknowledged.text
    page = await signed_in(browser, base_url, people.bob)
    acknowledge = page.get_by_role("button", name="Acknowledge")
    try:
        await page.goto(f"/ui/incidents/{incident}")
        await page.evaluate("window.loadedOnce = 'still the same document'")
        await expect(page.get_by_test_id("status")).to_have_text("acknowledged")
        await expect(acknowledge).to_have_count(0)
        escalated = await admin_api.post(f"/v1/incidents/{incident}/escalate", json={})
        assert escalated.status_code == 200, escalated.text
        await expect(page.get_by_test_id("status")).to_have_text("triggered", timeout=15_000)
        await expect(acknowledge).to_be_visible(timeout=15_000)
        assert await page.evaluate("window.loadedOnce") == "still the same document"
        resolved = await admin_api.post(f"/v1/incidents/{incident}/resolve", json={})
        assert resolved.status_code == 200, resolved.text
        await expect(page.get_by_test_id("status")).to_have_text("resolved", timeout=15_000)
        await expect(page.get_by_role("button", name="Resolve")).to_have_count(0)
        assert await page.evaluate("window.loadedOnce") == "still the same document"
    finally:
        await page.context.close()
        await admin_api.post(f"/v1/incidents/{incident}/resolve", json={})


async def test_reassign_pages_nobody_until_someone_is_chosen(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """The reassign list started on the first person of the configuration: a tap on Reassign, meant for the
    list, reassigned the incident to her and paged her. Now nobody is chosen until the person chooses."""
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Tap", f"Checkout mis-tap ({unique})"))
    page = await signed_in(browser, base_url, people.bob, PHONE)
    try:
        await page.goto(f"/ui/incidents/{incident}")
        await page.get_by_role("button", name="Reassign").click()
        await page.get_by_label("Add a note").fill("tapped Reassign first")
        await page.get_by_role("button", name="Add note").click()  # a later action: the reassign never went
        await expect(page.get_by_role("status")).to_have_text("Done: note added")
        audit = (await admin_api.get("/v1/audit", params={"target_id": incident})).json()["items"]
        assert [a["action"] for a in audit] == ["incident.note"]
    finally:
        await page.context.close()
        await resolve_all(admin_api, {incident})


async def test_a_live_region_that_did_not_change_is_left_alone(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """The script compared the server's text with the browser's own writing of the same HTML (``required=""``),
    which never matched: every live region was rewritten every 3 s, losing a selection on the Incidents list
    and wiping what was being chosen or typed in the incident's forms."""
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Calm", f"Checkout calm ({unique})"))
    page = await signed_in(browser, base_url, people.bob)
    watch = "ids => { window.swaps = 0; const seen = new MutationObserver(() => window.swaps++); "
    watch += "ids.forEach(id => seen.observe(document.getElementById(id), {childList: true})); }"
    try:
        await page.goto(f"/ui/incidents/{incident}")
        await page.get_by_label("Reassign to").select_option("user:carol")
        await page.get_by_label("Snooze for (minutes)").fill("7")
        await page.evaluate(watch, ["incident-live", "timeline"])
        for _ in range(2):  # the second answer comes once the first has been looked at (one request at a time)
            async with page.expect_response(re.compile(rf".*/ui/incidents/{incident}/facts$")):
                pass
        assert await page.evaluate("window.swaps") == 0
        await expect(page.get_by_label("Reassign to")).to_have_value("user:carol")
        await expect(page.get_by_label("Snooze for (minutes)")).to_have_value("7")
        await page.goto("/ui/incidents?team=payments&status=open")
        await page.evaluate(watch, ["incident-rows"])
        for _ in range(2):
            async with page.expect_response(re.compile(r".*/ui/incidents/rows\?.*")):
                pass
        assert await page.evaluate("window.swaps") == 0
    finally:
        await page.context.close()
        await resolve_all(admin_api, {incident})
