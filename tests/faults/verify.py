"""What every scenario asserts, read from three independent places: the router's incidents, the notifier's delivery
records (both in PostgreSQL, read-only) and the pages that actually reached the provider servers.

1. every alert acknowledged with a 2xx produced exactly one incident;
2. every expected page reached its provider exactly once per contact method, or twice only inside the documented
   at-least-once window (the first copy was accepted before the crash that lost its record) -- counted, reported;
3. no page older than the maximum page age reached a provider; pages expected to be stale were reported as
   ``expired`` and never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from tests.faults.providers import Arrival, Arrivals

CHANNELS = ("webhook", "sms")
FINAL = ("sent", "delivered", "failed", "undelivered", "expired", "throttled")
# The notifier checks a page's age just before the attempt; the request reaches the provider a moment later.
AGE_TOLERANCE_SECONDS = 2.0
# A request the killed process had written completely is read by the provider server a moment after the kill.
IN_TRANSIT_SECONDS = 1.0
REPORTS: list[Report] = []


@dataclass
class Expect:
    run: str
    acknowledged: set[str]
    max_page_age: float = 900.0
    # None: no page may arrive twice. A unix time: a second copy is allowed only for a page whose first copy the
    # provider accepted before then (the send whose record a crash or an outage lost).
    duplicates_before: float | None = None
    # (fault id, channel) pairs whose pages must be reported expired and never sent
    expired: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Report:
    scenario: str
    acknowledged: int = 0
    incidents: int = 0
    pages_expected: int = 0
    pages_delivered: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)
    expired: int = 0
    oldest_page_seconds: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        dups = ", ".join(f"{k} {v}" for k, v in sorted(self.duplicates.items())) or "none"
        extra = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (
            f"{self.scenario}: {self.acknowledged} alerts acknowledged, {self.incidents} incidents, "
            f"{self.pages_delivered}/{self.pages_expected} pages delivered, duplicates: {dups}, "
            f"expired: {self.expired}, oldest page sent {self.oldest_page_seconds:.1f}s after send_at, "
            f"{self.seconds:.0f}s{extra}"
        )


@dataclass(frozen=True)
class Delivery:
    fault_id: str
    channel: str
    page_id: str
    kind: str
    status: str
    send_at: datetime


class Ledger:
    """Read-only queries on the router's and the notifier's tables; one short connection per query, so a
    PostgreSQL restart in the middle of a scenario costs the checker nothing."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        for attempt in range(20):
            try:
                connection = await asyncpg.connect(self.dsn, timeout=5)
            except (OSError, asyncpg.PostgresError):
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)  # the database is restarting; poll again
                continue
            try:
                rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
                return rows
            finally:
                await connection.close()
        raise AssertionError("unreachable")

    async def incidents(self, run: str) -> Counter[str]:
        rows = await self._fetch(
            "SELECT labels->>'fault_id' AS id, count(*) AS n FROM router_incident "
            "WHERE labels->>'fault_run' = $1 GROUP BY 1",
            run,
        )
        return Counter({row["id"]: row["n"] for row in rows})

    async def incident_ids(self, run: str) -> dict[str, str]:
        rows = await self._fetch(
            "SELECT labels->>'fault_id' AS fault, id FROM router_incident WHERE labels->>'fault_run' = $1", run
        )
        return {row["fault"]: row["id"] for row in rows}

    async def progress(self, run: str) -> dict[str, int]:
        outbox = await self._fetch(
            "SELECT count(*) AS total, count(*) FILTER (WHERE o.published_at IS NULL) AS unpublished "
            "FROM router_outbox o JOIN router_incident i ON i.id = o.incident_id WHERE i.labels->>'fault_run' = $1",
            run,
        )
        deliveries = await self._fetch(
            "SELECT count(*) AS total, count(*) FILTER (WHERE status <> ALL($2::text[])) AS open "
            "FROM notifier_delivery WHERE page->'labels'->>'fault_run' = $1",
            run,
            list(FINAL),
        )
        return {
            "pages": outbox[0]["total"],
            "unpublished": outbox[0]["unpublished"],
            "deliveries": deliveries[0]["total"],
            "open_deliveries": deliveries[0]["open"],
        }

    async def deliveries(self, run: str) -> list[Delivery]:
        rows = await self._fetch(
            "SELECT page->'labels'->>'fault_id' AS fault_id, channel, page_id, kind, status, "
            "(page->>'send_at')::timestamptz AS send_at FROM notifier_delivery "
            "WHERE page->'labels'->>'fault_run' = $1",
            run,
        )
        return [Delivery(r["fault_id"], r["channel"], r["page_id"], r["kind"], r["status"], r["send_at"]) for r in rows]

    async def decisions(self, run: str) -> Counter[str]:
        rows = await self._fetch(
            "SELECT outcome, count(*) AS n FROM router_decision WHERE dedup_key LIKE $1 GROUP BY 1", f"%:{run}-%"
        )
        return Counter({row["outcome"]: row["n"] for row in rows})


async def settle(ledger: Ledger, expect: Expect, timeout: float = 120.0) -> dict[str, int]:
    """Poll until the run is finished everywhere: an incident for every acknowledged alert, every page published,
    and a final delivery record for every page. Fails with the last state seen, which says where things stopped."""
    deadline = time.monotonic() + timeout
    state: dict[str, int] = {}
    while time.monotonic() < deadline:
        incidents = await ledger.incidents(expect.run)
        state = await ledger.progress(expect.run)
        state["alerts_without_incident"] = len(expect.acknowledged - set(incidents))
        if (
            state["alerts_without_incident"] == 0
            and state["unpublished"] == 0
            and state["deliveries"] == state["pages"]
            and state["open_deliveries"] == 0
        ):
            return state
        await asyncio.sleep(0.5)
    raise AssertionError(f"run {expect.run} did not settle within {timeout}s; last state: {state}")


async def verify(scenario: str, ledger: Ledger, arrivals: Arrivals, expect: Expect, started: float) -> Report:
    """Settle, then assert the three properties; the report is kept for the session summary either way."""
    report = Report(scenario, acknowledged=len(expect.acknowledged))
    REPORTS.append(report)
    try:
        await settle(ledger, expect)
        incidents = await ledger.incidents(expect.run)
        report.incidents = sum(incidents.values())
        missing = sorted(expect.acknowledged - set(incidents))
        several = {k: n for k, n in incidents.items() if n > 1}
        assert not missing, f"{len(missing)} acknowledged alerts produced no incident, e.g. {missing[:5]}"
        assert not several, f"{len(several)} alerts produced more than one incident, e.g. {list(several.items())[:5]}"

        deliveries = await ledger.deliveries(expect.run)
        _check_delivery_records(expect, deliveries, report)
        _check_arrivals(expect, deliveries, arrivals.of_run(expect.run), report)
    finally:
        report.seconds = time.monotonic() - started
        print(report.line())
    return report


def _check_delivery_records(expect: Expect, deliveries: list[Delivery], report: Report) -> None:
    per_method = Counter((d.fault_id, d.channel) for d in deliveries if d.kind == "trigger")
    wrong = {key: n for key, n in per_method.items() if n != 1}
    assert not wrong, f"the router paged some contact methods more than once: {list(wrong.items())[:5]}"
    for fault in expect.acknowledged:
        for channel in CHANNELS:
            assert (fault, channel) in per_method, f"no {channel} page was recorded for alert {fault}"
    stale = [d for d in deliveries if (d.fault_id, d.channel) in expect.expired]
    report.expired = sum(1 for d in deliveries if d.status == "expired")
    not_expired = [f"{d.fault_id}/{d.channel}: {d.status}" for d in stale if d.status != "expired"]
    assert not not_expired, f"{len(not_expired)} stale pages not reported as expired: {not_expired[:5]}"
    unsent = [
        f"{d.fault_id}/{d.channel}: {d.status}"
        for d in deliveries
        if d.fault_id in expect.acknowledged
        and (d.fault_id, d.channel) not in expect.expired
        and d.status not in ("sent", "delivered")
    ]
    assert not unsent, f"{len(unsent)} fresh pages were not sent: {unsent[:5]}"


def _check_arrivals(expect: Expect, deliveries: list[Delivery], arrived: list[Arrival], report: Report) -> None:
    """Counts first (so the report is complete even when an assertion fails), then the assertions."""
    copies: dict[tuple[str, str], list[Arrival]] = defaultdict(list)
    for arrival in arrived:
        copies[(arrival.channel, arrival.page_id)].append(arrival)
    expected = {
        (d.channel, d.page_id if d.channel == "webhook" else d.fault_id)
        for d in deliveries
        if d.fault_id in expect.acknowledged and (d.fault_id, d.channel) not in expect.expired and d.kind == "trigger"
    }
    report.pages_expected = len(expected)
    report.pages_delivered = len(expected & set(copies))
    outside_window = _duplicates(expect, copies, report)
    too_old = _too_old(expect, deliveries, arrived, report)

    lost = sorted(expected - set(copies))
    assert not lost, f"{len(lost)} pages never reached their provider, e.g. {lost[:5]}"
    stale_sent = sorted({f"{a.fault_id}/{a.channel}" for a in arrived if (a.fault_id, a.channel) in expect.expired})
    assert not stale_sent, f"{len(stale_sent)} stale pages were sent anyway, e.g. {stale_sent[:5]}"
    assert not outside_window, (
        f"{len(outside_window)} pages were delivered more than once outside the at-least-once window: "
        f"{outside_window[:5]}"
    )
    assert not too_old, (
        f"{len(too_old)} pages older than the maximum age ({expect.max_page_age:.0f}s) were sent: {too_old[:5]}"
    )


def _duplicates(expect: Expect, copies: dict[tuple[str, str], list[Arrival]], report: Report) -> list[str]:
    """Count pages that arrived more than once; return those outside the at-least-once window, described."""
    duplicates: Counter[str] = Counter()
    outside_window: list[str] = []
    for (channel, page), got in copies.items():
        if len(got) == 1:
            continue
        duplicates[channel] += 1
        got = sorted(got, key=lambda a: a.at)
        first = got[0].at
        if len(got) > 2 or expect.duplicates_before is None or first > expect.duplicates_before:
            attempts = [a.attempt for a in got]
            gaps = [round(a.at - first, 1) for a in got]
            window = "" if expect.duplicates_before is None else f", first {first - expect.duplicates_before:+.1f}s"
            outside_window.append(f"{channel} {page}: {len(got)} copies, attempts {attempts}, at +{gaps}s{window}")
    report.duplicates = dict(duplicates)
    return outside_window


def _too_old(expect: Expect, deliveries: list[Delivery], arrived: list[Arrival], report: Report) -> list[str]:
    """Age of each page when it reached its provider (SMS bodies carry no send_at: the delivery record has it)."""
    send_at = {(d.fault_id, d.channel): d.send_at for d in deliveries}
    ages = []
    for arrival in arrived:
        sent_for = arrival.send_at or send_at.get((arrival.fault_id, arrival.channel))
        assert sent_for is not None, f"no send_at known for {arrival}"
        ages.append((arrival.at - sent_for.timestamp(), arrival))
    report.oldest_page_seconds = max((age for age, _ in ages), default=0.0)
    limit = expect.max_page_age + AGE_TOLERANCE_SECONDS
    return [f"{a.channel} {a.fault_id} {age:.1f}s" for age, a in ages if age > limit]
