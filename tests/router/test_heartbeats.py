"""Heartbeats on the real path (Kafka alerts topic → router → PostgreSQL → pages topic): a silent heartbeat is raised
again while it stays silent; beats queued while the router was down page nobody after its restart, a job that died
meanwhile does; the timer follows the current configuration.

Each test has a router of its own — its own database, configuration folder, consumer group and clock — so moving
the clock raises only its heartbeats. Beats are produced as ingest produces them (``POST /v1/heartbeats/{key}``:
a resolve of ``hb:<integration>`` stamped with the receipt time).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.heartbeats import raise_silent
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, PageKind, heartbeat_dedup_key
from tests.helpers import DatabaseFactory, TopicReader, eventually
from tests.router.conftest import TOKEN, pages_for, router_settings, send, skip_earlier_alerts

pytestmark = [pytest.mark.db, pytest.mark.kafka]

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "router" / "heartbeat_ownership.yaml"
KEY = heartbeat_dedup_key("hb-backup")


@dataclass
class Heartbeats:
    """A router of the test's own, started (and restarted) on one database, folder, consumer group and clock."""

    kafka: str
    database_url: str
    folder: Path
    producer: AIOKafkaProducer
    clock: OffsetClock = field(default_factory=OffsetClock)
    group: str = field(default_factory=lambda: f"router-hb-{uuid.uuid4().hex[:6]}")
    running: list[RouterRuntime] = field(default_factory=list)
    api: httpx.AsyncClient | None = None

    async def start(self, *, consume: bool = True, first: bool = False) -> RouterRuntime:
        settings = router_settings(
            self.kafka, self.database_url, config_path=str(self.folder), consumer_group=self.group
        )
        if first:
            await skip_earlier_alerts(self.kafka, self.group)
        runtime = RouterRuntime(settings, consume=consume, clock=self.clock)
        await runtime.start()
        self.running.append(runtime)
        if self.api is not None:
            await self.api.aclose()
        base = f"http://127.0.0.1:{settings.port}"
        self.api = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        return runtime

    def monitor_only(self, *integrations: str) -> None:
        """Leaves the other heartbeats out of the configuration: configured and never beaten, they are monitored
        from the router's first timer pass and would raise their own alerts as the test moves the clock."""
        document = self.folder / "ownership.yaml"
        head, listed = document.read_text().split("integrations:\n")
        kept = [b for b in listed.split("  - id: ")[1:] if b.split("\n", 1)[0] in integrations]
        document.write_text(head + "integrations:\n" + "".join("  - id: " + b for b in kept))

    async def stop(self, runtime: RouterRuntime) -> None:
        runtime.stop()
        await asyncio.wait_for(runtime.wait(), 30)
        self.running.remove(runtime)

    async def beat(self, integration: str) -> None:
        """A beat, stamped now by ingest's clock (here the router's, moved by the test)."""
        at = self.clock.now()
        await send(
            self.producer,
            AlertEvent(
                source=AlertSource.HEARTBEAT,
                integration_id=integration,
                action=AlertAction.RESOLVE,
                dedup_key=heartbeat_dedup_key(integration),
                summary=f"heartbeat of {integration}",
                labels={"heartbeat": integration},
                bound_service="nightly-jobs",
                occurred_at=at,
                received_at=at,
            ),
        )

    async def listed(self) -> dict[str, dict[str, Any]]:
        assert self.api is not None
        response = await self.api.get("/v1/heartbeats")
        assert response.status_code == 200, response.text
        return {h["integration"]: h for h in response.json()["heartbeats"]}

    async def recorded(self, integration: str) -> dict[str, Any]:
        """The heartbeat once the router recorded its beat (state ok)."""

        async def ok() -> dict[str, Any] | None:
            found = (await self.listed()).get(integration)
            return found if found and found["state"] == "ok" and found["last_beat_at"] else None

        return await eventually(ok, what=f"the beat of {integration} recorded")

    async def decisions(self, integration: str, count: int) -> list[dict[str, Any]]:
        """The heartbeat alert's decisions, oldest first, once there are at least ``count``."""
        assert self.api is not None
        api = self.api

        async def enough() -> list[dict[str, Any]] | None:
            response = await api.get("/v1/decisions", params={"dedup_key": heartbeat_dedup_key(integration)})
            items: list[dict[str, Any]] = response.json()["items"]
            return list(reversed(items)) if len(items) >= count else None

        return await eventually(enough, what=f"{count} decision(s) for {integration}")

    async def rows(self) -> dict[str, str]:
        """The heartbeat rows' states."""
        found = await self._fetch("SELECT integration_id, state FROM router_heartbeat")
        return {row["integration_id"]: row["state"] for row in found}

    async def outbox(self) -> list[str]:
        """Every page the router wrote (this router's own database): the incidents they are for."""
        return [row["incident_id"] for row in await self._fetch("SELECT incident_id FROM router_outbox")]

    async def _fetch(self, sql: str) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(**connect_arguments(self.database_url))
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()


@pytest.fixture
async def heartbeats(
    kafka_bootstrap: str, databases: DatabaseFactory, producer: AIOKafkaProducer, tmp_path: Path
) -> AsyncIterator[Heartbeats]:
    url = databases.create()
    await asyncio.to_thread(upgrade_to_head, url, 30)
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "ownership.yaml")
    found = Heartbeats(kafka_bootstrap, url, folder, producer)
    yield found
    for runtime in list(found.running):
        await found.stop(runtime)
    if found.api is not None:
        await found.api.aclose()


async def published(pages: TopicReader, incidents: list[str]) -> list[str]:
    """The incidents of trigger pages on the pages topic, once one is there for each of ``incidents`` (the topic
    is the session's: other tests' pages are left out by incident)."""

    async def each() -> list[str] | None:
        found = [p.incident_id for p in pages_for(pages, KEY) if p.kind is PageKind.TRIGGER]
        mine = [i for i in found if i in incidents]
        return mine if set(mine) == set(incidents) else None

    return await eventually(each, what=f"trigger pages of {incidents}")


async def test_a_silent_heartbeat_is_raised_again_and_pages_again_once_a_person_resolved_its_incident(
    heartbeats: Heartbeats, pages: TopicReader
) -> None:
    """Its row was marked silent when the alert was first raised and only a beat made it ok again: a page lost
    (stale, out of order) or an incident resolved while the job stayed dead was never raised again."""
    heartbeats.monitor_only("hb-backup")
    await heartbeats.start(first=True)
    await heartbeats.beat("hb-backup")
    await heartbeats.recorded("hb-backup")

    heartbeats.clock.advance(timedelta(seconds=125))  # interval 60 + grace 60 passed
    beat, first = await heartbeats.decisions("hb-backup", 2)
    assert beat["outcome"] == "resolved" and first["outcome"] == "paged", first["reason"]
    assert "has gone silent: no heartbeat from hb-backup" in first["explanation"]["event"]["summary"]
    assert (await heartbeats.listed())["hb-backup"]["state"] == "silent"
    assert await published(pages, [first["incident_id"]])

    heartbeats.clock.advance(timedelta(minutes=5))  # raised again while its incident is open: a duplicate
    *_, again = await heartbeats.decisions("hb-backup", 3)
    assert again["outcome"] == "duplicate" and again["incident_id"] == first["incident_id"]
    assert again["event_id"] != first["event_id"]

    assert heartbeats.api is not None
    resolved = await heartbeats.api.post(f"/v1/incidents/{first['incident_id']}/resolve", json={"by": "erin"})
    assert resolved.status_code == 200, resolved.text
    heartbeats.clock.advance(timedelta(minutes=5))  # the job is still dead: raised again, it pages again
    *_, reopened = await heartbeats.decisions("hb-backup", 5)
    assert reopened["outcome"] == "paged", reopened["reason"]
    assert reopened["incident_id"] != first["incident_id"]
    assert await published(pages, [first["incident_id"], reopened["incident_id"]])

    await heartbeats.beat("hb-backup")  # the job is back: the beat resolves the new incident
    *_, back = await heartbeats.decisions("hb-backup", 6)
    assert back["outcome"] == "resolved" and back["incident_id"] == reopened["incident_id"]
    assert (await heartbeats.recorded("hb-backup"))["silent_since"] is None


async def _restart_after(heartbeats: Heartbeats, beats_meanwhile: list[timedelta]) -> RouterRuntime:
    """The router records a beat and stops; beats at the given offsets reach Kafka meanwhile; it restarts past the
    heartbeat's due time, its first timer pass raising the alert before its consumer reaches those beats (as it
    did: the timers start with the consumers, whose group takes seconds to join)."""
    heartbeats.monitor_only("hb-backup")
    first = await heartbeats.start(first=True)
    await heartbeats.beat("hb-backup")
    await heartbeats.recorded("hb-backup")
    await heartbeats.stop(first)
    start = heartbeats.clock.now()
    for offset in beats_meanwhile:
        heartbeats.clock.advance(start + offset - heartbeats.clock.now())
        await heartbeats.beat("hb-backup")
    heartbeats.clock.advance(start + timedelta(seconds=150) - heartbeats.clock.now())  # due at +120 s
    timers_first = await heartbeats.start(consume=False)
    assert await raise_silent(timers_first.state) == 1  # the restarted router's first timer pass
    await heartbeats.stop(timers_first)
    return await heartbeats.start()  # its consumer: the beats, then the alert raised after them


@pytest.mark.parametrize(
    "meanwhile",
    [[timedelta(seconds=60), timedelta(seconds=110)], [timedelta(seconds=60), timedelta(seconds=130)]],
    ids=["beats before the due time", "a beat after the due time"],
)
async def test_beats_queued_while_the_router_was_down_page_nobody_after_its_restart(
    heartbeats: Heartbeats, meanwhile: list[timedelta]
) -> None:
    """The alert raised by the restarted router's timer was dated now, later than every beat queued ahead of it,
    so it opened an incident and paged "gone silent" for a job that never stopped beating."""
    await _restart_after(heartbeats, meanwhile)
    decisions = await heartbeats.decisions("hb-backup", 1 + len(meanwhile) + 1)
    raised = [d for d in decisions if d["explanation"]["event"]["action"] == "trigger"]
    assert len(raised) == 1
    assert raised[0]["outcome"] == "suppressed", raised[0]["reason"]
    assert raised[0]["explanation"]["suppressed_by"] == "out_of_order"
    assert all(d["outcome"] != "paged" for d in decisions)
    assert await heartbeats.outbox() == []
    assert (await heartbeats.listed())["hb-backup"]["state"] == "ok"


async def test_a_job_that_died_while_the_router_was_down_pages_after_its_restart(
    heartbeats: Heartbeats, pages: TopicReader
) -> None:
    await _restart_after(heartbeats, [])
    _, raised = await heartbeats.decisions("hb-backup", 2)
    assert raised["outcome"] == "paged", raised["reason"]
    assert await published(pages, [raised["incident_id"]])


async def _reconfigure(heartbeats: Heartbeats, change: Callable[[str], str]) -> None:
    document = heartbeats.folder / "ownership.yaml"
    document.write_text(change(document.read_text()))
    assert heartbeats.api is not None
    reloaded = await heartbeats.api.post("/v1/config/reload")
    assert reloaded.status_code == 200, reloaded.text


def _without_retired_and_paused(text: str) -> str:
    """hb-retired removed from the configuration, hb-paused disabled."""
    text = text[: text.index("  - id: hb-retired")] + text[text.index("  - id: hb-paused") :]
    return text.replace("key: hb-paused-key\n", "key: hb-paused-key\n    enabled: false\n")


async def test_a_removed_or_disabled_heartbeat_is_never_raised(heartbeats: Heartbeats, pages: TopicReader) -> None:
    """Rows were never matched against the configuration: a removed or disabled heartbeat's row paged "gone
    silent" for an integration that can never beat again."""
    heartbeats.monitor_only("hb-backup", "hb-retired", "hb-paused")
    await heartbeats.start(first=True)
    for integration in ("hb-backup", "hb-retired", "hb-paused"):
        await heartbeats.beat(integration)
        await heartbeats.recorded(integration)
    await _reconfigure(heartbeats, _without_retired_and_paused)

    heartbeats.clock.advance(timedelta(seconds=125))  # all three past due: the pass raises hb-backup only
    _, raised = await heartbeats.decisions("hb-backup", 2)
    assert raised["outcome"] == "paged", raised["reason"]
    assert await heartbeats.rows() == {"hb-backup": "silent", "hb-retired": "paused", "hb-paused": "paused"}
    heartbeats.clock.advance(timedelta(minutes=5))  # and raised again: still hb-backup alone
    await heartbeats.decisions("hb-backup", 3)
    assert await heartbeats.rows() == {"hb-backup": "silent", "hb-retired": "paused", "hb-paused": "paused"}
    for integration in ("hb-retired", "hb-paused"):
        assert [d["outcome"] for d in await heartbeats.decisions(integration, 1)] == ["resolved"]
    assert await heartbeats.outbox() == [raised["incident_id"]]
    assert await published(pages, [raised["incident_id"]])

    listed = await heartbeats.listed()  # the listing says what the timer does
    assert "hb-retired" not in listed
    assert listed["hb-paused"]["state"] == "disabled" and listed["hb-paused"]["next_due_at"] is None
    assert not listed["hb-paused"]["overdue"]


async def test_a_shortened_interval_acts_at_once(heartbeats: Heartbeats) -> None:
    """The due time was fixed at the beat: an interval shortened in the configuration acted only after the next
    beat, a long interval's silence going unnoticed meanwhile."""
    heartbeats.monitor_only("hb-export")
    await heartbeats.start(first=True)
    await heartbeats.beat("hb-export")  # every 600 s (+ 60 s grace)
    last_beat = (await heartbeats.recorded("hb-export"))["last_beat_at"]
    await _reconfigure(
        heartbeats,
        lambda text: text.replace(
            "key: hb-export-key\n    development_only: true\n    interval_seconds: 600",
            "key: hb-export-key\n    development_only: true\n    interval_seconds: 60",
        ),
    )
    export = (await heartbeats.listed())["hb-export"]
    assert export["interval_seconds"] == 60
    assert export["next_due_at"] == (datetime.fromisoformat(last_beat) + timedelta(seconds=120)).isoformat()

    heartbeats.clock.advance(timedelta(seconds=125))  # past the new interval, long before the old one (660 s)
    _, raised = await heartbeats.decisions("hb-export", 2)
    assert raised["outcome"] == "paged", raised["reason"]
    export = (await heartbeats.listed())["hb-export"]
    assert export["state"] == "silent"
    assert export["next_due_at"] == (datetime.fromisoformat(last_beat) + timedelta(seconds=420)).isoformat()


async def test_a_heartbeat_that_never_beats_pages_and_its_first_beat_resolves_it(
    heartbeats: Heartbeats, pages: TopicReader
) -> None:
    """Monitoring started with the first beat, so a job whose heartbeat was wrong from the start (its URL, its key)
    never beat and never paged anyone. Now the router monitors it from its first timer pass."""
    heartbeats.monitor_only("hb-backup")
    await heartbeats.start(first=True)

    async def armed() -> dict[str, Any] | None:
        found = (await heartbeats.listed())["hb-backup"]
        return found if found["next_due_at"] else None

    waiting = await eventually(armed, what="hb-backup monitored by a timer pass")
    assert (waiting["state"], waiting["last_beat_at"]) == ("waiting for the first beat", None)

    heartbeats.clock.advance(timedelta(seconds=125))  # interval 60 + grace 60 after the pass that armed it
    [raised] = await heartbeats.decisions("hb-backup", 1)
    assert raised["outcome"] == "paged", raised["reason"]
    assert "no heartbeat from hb-backup ever (monitored since" in raised["explanation"]["event"]["summary"]
    assert await published(pages, [raised["incident_id"]])
    assert (await heartbeats.listed())["hb-backup"]["state"] == "silent"

    await heartbeats.beat("hb-backup")  # the job's heartbeat fixed: its first beat resolves the incident
    _, resolved = await heartbeats.decisions("hb-backup", 2)
    assert resolved["outcome"] == "resolved" and resolved["incident_id"] == raised["incident_id"]
    assert (await heartbeats.recorded("hb-backup"))["silent_since"] is None
