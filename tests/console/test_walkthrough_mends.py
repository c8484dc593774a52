"""What a new person's walk through the console found, each looked at in the browser: a table cell never splits a
word ("checkou t"), the calendar feed URL is shown in a box as wide as its card, and the schedule timeline's day
labels are drawn inside it; a 403 or 404 page has the navigation; a drill's incident says so; the Why paragraph is in
the person's time zone like the lines under it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from alertrouter_router.console.rendering import ENV
from alertrouter_router.console.schedule_timeline import build
from alertrouter_router.console.why_page import in_zone
from alertrouter_router.decisions.explain import explain_text
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.timefmt import utc_time
from tests.console.conftest import CONFIG, ROOT, People, fire, incident_of, resolve_all, screenshot, signed_in
from tests.console.test_pages_fit import pages_to_visit

pytestmark = [pytest.mark.db, pytest.mark.kafka]

# Widths where the pages are tables (above the phone's 640 px, where rows become cards), down to a small tablet.
TABLE_WIDTHS = (1280, 900, 700)

# The words of every visible table cell whose letters are laid out on more than one line.
SPLIT_WORDS = """() => {
  const split = [];
  for (const cell of document.querySelectorAll('td, th')) {
    if (cell.getClientRects().length === 0) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      for (const word of text.data.matchAll(/[\\p{L}\\p{N}_]{2,}/gu)) {
        const range = document.createRange();
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) split.push(word[0]);
      }
    }
  }
  return split;
}"""


async def split_words(page: Page) -> list[str]:
    found: list[str] = await page.evaluate(SPLIT_WORDS)
    return found


async def test_no_table_cell_splits_a_word(
    browser: Browser,
    base_url: str,
    people: People,
    admin_api: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    unique: str,
) -> None:
    """A narrow column wraps between words, or its table scrolls in its own box: never "checkou t"."""
    visits = await pages_to_visit(admin_api, ingest, unique)
    page = await signed_in(browser, base_url, people.alice)
    for width in TABLE_WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        for name, path in visits.items():
            response = await page.goto(path)
            assert response is not None and response.status == 200, path
            assert await split_words(page) == [], f"{path} at {width}px"
            wide = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert wide[0] <= wide[1], f"{path} at {width}px: a table widened the page, not its own box"
            if width == TABLE_WIDTHS[-1]:
                await screenshot(page, f"{name}-{width}")
    await page.context.close()


async def test_the_calendar_feed_url_box_is_as_wide_as_its_card(
    browser: Browser, base_url: str, people: People, admin_api: httpx.AsyncClient
) -> None:
    page = await signed_in(browser, base_url, people.alice)
    await page.goto("/ui/schedules/payments-secondary")
    await page.get_by_role("button", name="Make a calendar feed URL").click()
    box = page.get_by_test_id("feed-url")
    sizes = await box.evaluate(
        "e => [e.getBoundingClientRect().width, e.parentElement.clientWidth, e.scrollWidth, e.clientWidth]"
    )
    assert sizes[0] >= sizes[1] - 1, f"the box is {sizes[0]}px wide in a {sizes[1]}px container"
    assert sizes[2] <= sizes[3], f"the URL needs {sizes[2]}px, the box shows {sizes[3]}px"
    await screenshot(page, "feed-desktop")
    feed = (await page.get_by_test_id("feed-revoke").inner_text()).split()[-1]
    assert (await admin_api.delete(feed)).status_code == 200
    await page.context.close()


def timeline_page(start: datetime, zone: str) -> str:
    """The schedule page's timeline alone, drawn from ``start`` in ``zone``, with the console's style sheet."""
    config = load_config(CONFIG, secrets=False).config
    timeline = build(config.schedules_by_id["payments-secondary"], start, zone)
    css = (ROOT / "services/router/src/alertrouter_router/console/static/console.css").read_text()
    drawn = ENV.get_template("_schedule_timeline.html").render(timeline=timeline)
    return f"<!doctype html><style>{css}</style><main><section class='card'><h2 id='tl-h'>Next 14 days</h2>{drawn}"


# The day labels reaching past the timeline's right edge.
CLIPPED_LABELS = """() => {
  const svg = document.querySelector('svg.timeline-svg').getBoundingClientRect();
  return [...document.querySelectorAll('svg.timeline-svg .tick')]
    .filter(t => t.getBoundingClientRect().right > svg.right + 0.5)
    .map(t => t.textContent);
}"""


async def test_every_day_label_of_the_schedule_timeline_is_inside_it(
    browser: Browser, base_url: str, people: People
) -> None:
    """From every hour of a day: when the last midnight is near the right edge, its label was cut ("Tue 2")."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    midnight = datetime(2026, 12, 8, tzinfo=UTC)
    for hour in range(24):
        await page.set_content(timeline_page(midnight + timedelta(hours=hour, minutes=30), "UTC"))
        assert await page.evaluate(CLIPPED_LABELS) == [], f"from {hour}:30 UTC"
    await context.close()
    page = await signed_in(browser, base_url, people.alice)  # the page itself, from now
    await page.goto("/ui/schedules/payments-secondary")
    assert await page.evaluate(CLIPPED_LABELS) == []
    await page.context.close()


async def test_a_403_or_404_page_has_the_navigation_of_every_page(
    browser: Browser,
    base_url: str,
    people: People,
    admin_api: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    unique: str,
) -> None:
    """A signed-in person on an error page can go anywhere from it (it had only the brand and two links)."""
    incident = await incident_of(admin_api, await fire(ingest, "checkout", "Refused", f"not hers ({unique})"))
    page = await signed_in(browser, base_url, people.vera)  # a viewer: she may not resolve
    errors = {
        f"/ui/incidents/{incident}/resolve": 403,
        "/ui/incidents/no-such-incident": 404,
        "/ui/no-such-page": 404,
    }
    for path, status in errors.items():
        response = await page.goto(path)
        assert response is not None and response.status == status, path
        await expect(page.locator(f"[data-status='{status}']")).to_be_visible()
        nav = page.get_by_role("navigation", name="Main")
        for name in ("Now", "Incidents", "Why", "Services", "Schedules"):
            await expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
        await expect(page.get_by_test_id("me")).to_have_text("carol · viewer")
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    await screenshot(page, "error-404-desktop")
    await page.context.close()
    await resolve_all(admin_api, {incident})
    signed_out = await browser.new_context(base_url=base_url)
    page = await signed_out.new_page()
    response = await page.goto("/ui/no-such-page")  # nobody signed in: no navigation to pages that need it
    assert response is not None and response.status == 404
    await expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    await signed_out.close()


async def test_a_drill_s_incident_says_drill_on_its_page_and_in_the_list(
    browser: Browser, base_url: str, people: People, admin_api: httpx.AsyncClient
) -> None:
    """A rehearsal is never taken for a real incident: its page and its row of the list say "Drill" beside the
    title (they looked like any other); the list shows drills when asked for them, real incidents by default."""
    started = await admin_api.post("/v1/services/checkout/drills", json={"by": "alice", "note": "walkthrough"})
    assert started.status_code == 202, started.text
    incident = await incident_of(admin_api, started.json()["dedup_key"])
    page = await signed_in(browser, base_url, people.alice)
    await page.goto(f"/ui/incidents/{incident}")
    await expect(page.locator("h1").get_by_test_id("drill")).to_have_text("Drill")
    await screenshot(page, "incident-drill-desktop")
    await page.goto("/ui/incidents?status=all")
    await expect(page.locator(f"tr[data-incident='{incident}']")).to_have_count(0)
    await page.get_by_label("Kind").select_option("drill")
    await page.get_by_role("button", name="Filter").click()
    row = page.locator(f"tr[data-incident='{incident}']")
    await expect(row.get_by_test_id("drill")).to_have_text("Drill")
    await screenshot(page, "incidents-drills-desktop")
    real = page.locator("tr[data-incident]").filter(has_not=page.get_by_test_id("drill"))
    await expect(real).to_have_count(0)
    await page.context.close()
    await resolve_all(admin_api, {incident})


async def test_the_why_paragraph_is_in_the_person_s_zone_like_the_lines_under_it(
    browser: Browser,
    base_url: str,
    people: People,
    admin_api: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    unique: str,
) -> None:
    """bob (America/New_York) read "paged at 2026-12-08 00:02:20 UTC" in the paragraph over "at Mon 7 Dec 19:02 EST"
    in the lines under it: one instant, two zones."""
    key = await fire(ingest, "checkout", "ZoneCheck", f"checkout zone check ({unique})")
    incident = await incident_of(admin_api, key)
    decision = (await admin_api.get("/v1/decisions", params={"dedup_key": key})).json()["items"][-1]["id"]
    page = await signed_in(browser, base_url, people.bob)
    await page.goto(f"/ui/why/{decision}")
    paragraph = page.get_by_test_id("explanation")
    await expect(paragraph).to_contain_text("Paged: Alice Example (alice)")
    text = await paragraph.inner_text()
    assert "UTC" not in text and "EST" in text, text
    line = await page.get_by_test_id("next-escalation").inner_text()  # "... is paged at Mon 7 Dec 19:02 EST."
    assert line.split(" at ")[-1] in text, (line, text)
    for sent in await page.locator("ul.targets li li").all_inner_texts():  # "webhook (alice-hook) at ..."
        assert sent.split(" at ")[-1].split(",")[0] in text, (sent, text)
    await screenshot(page, "why-decision-zone-desktop")
    await page.context.close()
    await resolve_all(admin_api, {incident})


def test_the_why_paragraph_writes_every_instant_of_the_reason_in_the_person_s_zone_too() -> None:
    """The reason's instants go through the same ``timefmt.instants_in`` with the page's zone (no browser)."""
    row = {
        "kind": "manual",
        "explanation": {"step": {}},
        "dedup_key": "am:prod:abc",
        "incident_id": "inc-1",
        "created_at": datetime(2026, 12, 7, 3, 5, tzinfo=UTC),
        "outcome": "snoozed",
        "reason": "snoozed by bob; paged again at 2026-12-07T03:15:00+00:00, then 2026-13-99T99:99:00Z",
        "config_version": "9b78",
        "id": "dec-1",
    }
    text = explain_text(row, in_zone("America/New_York"))
    assert "A person acted on incident inc-1 at Sun 6 Dec 22:05 EST." in text, text
    assert "paged again at Sun 6 Dec 22:15 EST, then 2026-13-99T99:99:00Z." in text, text
    assert explain_text(row) == explain_text(row, utc_time)  # the API's and the CLI's paragraph: UTC, as before
    assert "paged again at 2026-12-07 03:15:00 UTC" in explain_text(row)
