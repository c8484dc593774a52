"""What a new person's walk through the console found, each looked at in the browser: a table cell never splits a
word ("checkou t") and the calendar feed URL is shown in a box as wide as its card."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.console.conftest import People, screenshot, signed_in
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
