"""Team health: the on-call report drawn as charts, with the numbers the report API gives for the same window."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from alertrouter_router.console.charts import HEIGHT, bar_chart, count_axis, line_chart, nice_ceiling
from tests.console.conftest import People, fire, incident_of, screenshot, signed_in

pytestmark = [pytest.mark.db, pytest.mark.kafka]


async def test_the_report_as_charts(
    browser: Browser,
    base_url: str,
    people: People,
    ingest: httpx.AsyncClient,
    admin_api: httpx.AsyncClient,
    unique: str,
) -> None:
    incident = await incident_of(
        admin_api, await fire(ingest, "checkout", "Saturated", f"Checkout saturated ({unique})")
    )
    assert (await admin_api.post(f"/v1/incidents/{incident}/resolve", json={})).status_code == 200
    page = await signed_in(browser, base_url, people.alice)
    await page.goto("/ui/health?team=payments&weeks=4")
    window = (await page.locator("h1 small").inner_text()).strip()
    assert window
    report = (await admin_api.get("/v1/reports/oncall", params={"team": "payments"})).json()
    checkout = next(s for s in report["services"] if s["service"] == "checkout")
    row = page.locator("tr", has=page.get_by_role("link", name="checkout", exact=True))
    await expect(row.locator("td[data-label=Incidents]")).to_have_text(str(checkout["incidents"]))
    alice = next(p for p in report["people"] if p["user"] == "alice")
    await expect(page.locator("li[data-person=alice]")).to_contain_text(
        f"alice: {alice['pages']} page{'' if alice['pages'] == 1 else 's'},"
    )
    pages_chart = page.locator("figure", has_text="Incidents and pages per week")
    titles = await pages_chart.locator("rect title").evaluate_all("titles => titles.map(t => t.textContent)")
    this_week = report["weeks"][-1]
    assert any(re.fullmatch(rf".*: {this_week['pages']} pages", t) for t in titles), titles
    await expect(
        page.locator("figure", has_text="Pages per person").locator("rect title", has_text="alice")
    ).to_have_count(3)
    await screenshot(page, "health-report-desktop")
    await page.context.close()


def test_axes_and_bars() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 3, 7, 12, 51, 999)] == [1, 0.5, 1, 5, 10, 20, 100, 1000]
    chart = bar_chart("t", ["a", "b"], {"x": [5, 10], "y": [0, 2]})
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.title == "b: 10 x" and tallest.y == 30  # the top of the axis: 10 is the nice ceiling
    assert [b.height for b in chart.bars if b.title.startswith("a")] == [tallest.height / 2, 0]
    assert [t.text for t in chart.y_ticks] == ["0", "2.5", "5", "7.5", "10"]
    # counts (incidents, pages) are whole: their ticks too, with the bars on the same scale as the ticks
    assert [count_axis(v) for v in (0, 1, 3, 4, 5, 7, 10, 12, 51)] == [
        (1, 1), (1, 1), (3, 3), (4, 4), (6, 3), (8, 4), (10, 2), (15, 3), (60, 3)
    ]  # fmt: skip
    counted = bar_chart("t", ["a"], {"x": [1], "y": [3]}, counts=True)
    assert [t.text for t in counted.y_ticks] == ["0", "1", "2", "3"]
    assert max(b.height for b in counted.bars) == HEIGHT - 30 - 40  # 3 of 3: the full height
    lines = line_chart("t", ["a", "b", "c"], {"m": [1, None, 4]}, unit="m")
    assert len(lines.lines[0].dots) == 2 and lines.lines[0].points.count(",") == 2
    assert line_chart("t", ["a"], {"m": [None]}).empty and not lines.empty
    assert all(0 <= b.y <= HEIGHT for b in chart.bars)
