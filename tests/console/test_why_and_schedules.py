"""The Why page names the schedule layer that selected the person; an override created in Schedules changes Now."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, expect

from alertrouter_router.console.why_page import SHOWN
from tests.console.conftest import (
    People,
    fire,
    fire_many,
    incident_of,
    incidents_of,
    resolve_all,
    screenshot,
    signed_in,
)

pytestmark = [pytest.mark.db, pytest.mark.kafka]


async def test_why_shows_the_schedule_layer_that_selected_the_person(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    key = await fire(ingest, "checkout-api", "QueueBacklog", f"Checkout queue backlog ({unique})")
    await incident_of(admin_api, key)
    page = await signed_in(browser, base_url, people.vera)
    await page.goto("/ui/why")
    await page.get_by_label("Dedup key").fill(key)
    await page.get_by_role("button", name="Find").click()
    await page.get_by_role("link", name=re.compile(r"\d")).first.click()
    paragraph = page.get_by_test_id("explanation")
    await expect(paragraph).to_contain_text("routed to service checkout")
    await expect(paragraph).to_contain_text("on call in schedule payments-primary (layer around-the-clock)")
    alice = page.locator("ul.targets > li[data-user=alice]")
    await expect(alice.locator(".how")).to_have_text("on call in schedule payments-primary (layer around-the-clock)")
    await expect(alice).to_contain_text("webhook (alice-hook)")
    await expect(alice).to_contain_text("sms (alice-sms)")
    # the next step as the paragraph says it (a level that reached nobody reads "is tried again": explain.next_step)
    await expect(page.get_by_test_id("next-escalation")).to_contain_text("level 2 (round 1) is paged at")
    await expect(page.locator(".facts")).to_contain_text("by-service-label")
    # the rule takes the service from a label: said in words, not as a matcher with an empty value
    await expect(page.locator(".facts dd", has_text="names the service")).to_have_text(
        "service names the service (was checkout-api)"
    )
    await screenshot(page, "why-layer-desktop")
    await page.context.close()


async def test_an_override_created_in_schedules_changes_now(browser: Browser, base_url: str, people: People) -> None:
    page = await signed_in(browser, base_url, people.alice)
    level_one = page.locator("[data-service=refunds] table.levels tbody tr").first
    await expect(level_one.locator("td.who")).to_contain_text("Bob Example")
    await page.goto("/ui/schedules/refunds-primary")
    await expect(page.get_by_test_id("on-call-now")).to_have_text("Bob Example")
    now_berlin = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin"))  # alice's zone: the form's wall time
    await page.get_by_label("Who", exact=True).select_option("carol")
    await page.get_by_label("Until").fill((now_berlin + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Reason").fill("bob is at the dentist")
    await page.get_by_role("button", name="Create override").click()
    await page.wait_for_url(re.compile(r".*/ui/schedules/refunds-primary\?done=.*"))
    await expect(page.get_by_test_id("on-call-now")).to_have_text("Carol Example")
    mine = page.locator("li[data-override^=api-]", has_text="bob is at the dentist")
    await expect(mine).to_contain_text(": carol, ")  # who and when, with who made it and why on the same line
    await expect(mine).to_contain_text("(made by alice: bob is at the dentist)")
    await screenshot(page, "schedule-override-desktop")
    await page.goto("/ui/")
    await expect(level_one.locator("td.who")).to_contain_text("Carol Example")
    await expect(level_one).to_contain_text("on call in schedule refunds-primary (override api-")
    await screenshot(page, "now-after-override-desktop")
    await page.context.close()


async def test_a_responder_cannot_create_an_override(browser: Browser, base_url: str, people: People) -> None:
    page = await signed_in(browser, base_url, people.bob)
    await page.goto("/ui/schedules/refunds-primary")
    await expect(page.get_by_role("button", name="Create override")).to_have_count(0)
    csrf = await page.locator("form.signout input[name=csrf]").get_attribute("value")
    forged = await page.request.post(
        "/ui/schedules/refunds-primary/overrides",
        form={"csrf": csrf or "", "user": "bob", "end": "2099-01-01T00:00"},
    )
    assert forged.status == 403
    assert "may not create overrides: that needs the team_admin role" in await forged.text()
    await page.context.close()


async def test_why_reads_from_and_until_in_the_persons_time_zone(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """The page says "From/until are in your time zone": bob's (America/New_York) wall times around the decision
    find it (they were read as UTC, five hours off, and found nothing)."""
    key = await fire(ingest, "checkout", "WhyWindow", f"Checkout why window ({unique})")
    incident = await incident_of(admin_api, key)
    decided = (await admin_api.get("/v1/decisions", params={"dedup_key": key})).json()["items"][-1]["created_at"]
    local = datetime.fromisoformat(decided).astimezone(ZoneInfo("America/New_York")).replace(second=0)
    page = await signed_in(browser, base_url, people.bob)
    try:
        await page.goto("/ui/why")
        await page.get_by_label("Dedup key").fill(key)
        await page.get_by_label("From").fill((local - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M"))
        await page.get_by_label("Until").fill((local + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M"))
        await page.get_by_role("button", name="Find").click()
        await expect(page.locator("tbody tr", has_text=key)).to_have_count(1)
    finally:
        await page.context.close()
        await resolve_all(admin_api, {incident})


async def test_why_says_when_more_decisions_match_than_it_lists(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    """Why lists the newest 50: with more matching, the older ones were left out as if there were none."""
    storm = await incidents_of(admin_api, "ledger", await fire_many(ingest, "ledger", SHOWN + 1, unique))
    page = await signed_in(browser, base_url, people.dave)
    try:
        await page.goto("/ui/why?service=ledger")
        await expect(page.locator("tbody tr")).to_have_count(SHOWN)
        await expect(page.get_by_test_id("more")).to_contain_text("More decisions may match than are listed")
        await page.goto(f"/ui/why?service=ledger&dedup_key=am:console-am:{unique}0000")
        await expect(page.locator("tbody tr")).to_have_count(1)
        await expect(page.get_by_test_id("more")).to_have_count(0)
    finally:
        await page.context.close()
        await resolve_all(admin_api, storm)


async def test_the_schedule_page_lists_overrides_not_yet_over(
    base_url: str, people: People, admin_api: httpx.AsyncClient
) -> None:
    """The schedule keeps an API override removed while it ran for the history of its shifts (until its removal);
    the page's list of overrides is of those still to come or running, so it is not listed there."""
    now = datetime.now(UTC)
    body = {
        "user": "carol",
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    created = await admin_api.post("/v1/schedules/platform-primary/overrides", json=body)
    assert created.status_code == 201, created.text
    override_id = created.json()["override_id"]
    cookie = {"cookie": f"alertrouter_console={people.alice}"}
    async with httpx.AsyncClient(base_url=base_url, headers=cookie) as client:
        running = await client.get("/ui/schedules/platform-primary")
        assert running.status_code == 200 and f'data-override="{override_id}"' in running.text
        removed = await admin_api.delete(f"/v1/schedules/platform-primary/overrides/{created.json()['id']}")
        assert removed.status_code == 200, removed.text
        after = await client.get("/ui/schedules/platform-primary")
    assert after.status_code == 200 and f'data-override="{override_id}"' not in after.text
