"""Overrides through the API: checked like configured ones, change who is paged, shown in on-call, shifts, iCal,
and picked up by every router process."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from tests.helpers import TopicReader, eventually
from tests.router.access_support import client_for, new_token
from tests.router.conftest import TOKEN, alert_event, pages_for, router_settings, send


async def _on_call(api: httpx.AsyncClient) -> dict[str, object]:
    level_one = (await api.get("/v1/oncall", params={"service": "checkout"})).json()["levels"][0]
    return dict(level_one["targets"][0])


async def test_an_override_made_through_the_api_changes_who_is_paged(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    now = router_clock.now()
    window = {"start": (now - timedelta(minutes=1)).isoformat(), "end": (now + timedelta(hours=2)).isoformat()}
    alice = client_for(router, await new_token(api, user="alice", role="team_admin"))
    dave = client_for(router, await new_token(api, user="dave", role="team_admin"))
    async with alice, dave:
        refused = await dave.post("/v1/schedules/payments-primary/overrides", json={"user": "dave", **window})
        assert refused.status_code == 403 and "team payments (schedule payments-primary)" in refused.text
        created = await alice.post(
            "/v1/schedules/payments-primary/overrides", json={"user": "carol", "reason": "alice at a wedding", **window}
        )
        assert created.status_code == 201, created.text
        override = created.json()
        try:
            target = await _on_call(api)
            assert target["user"] == "carol"
            assert target["selected_by"]["override"] == override["override_id"]  # type: ignore[index]

            shifts = await api.get(
                "/v1/schedules/payments-primary/shifts",
                params={"from": now.isoformat(), "to": (now + timedelta(hours=1)).isoformat()},
            )
            assert [s["user"] for s in shifts.json()["shifts"]] == ["carol"]
            ical = (await api.get("/v1/schedules/payments-primary/calendar.ics")).text.replace("\r\n ", "")
            assert "On call: Carol Example (Payments primary)" in ical

            key = f"am:test-am:{unique}"
            await send(producer, alert_event(key, {"service": "checkout", "alertname": "Down"}))
            await eventually(lambda: _first_page_to(pages, key), what="the level-1 page")
            assert {p.user_id for p in pages_for(pages, key) if p.escalation_level == 1} == {"carol"}

            overlapping = await alice.post("/v1/schedules/payments-primary/overrides", json={"user": "bob", **window})
            assert overlapping.status_code == 422 and "overlapping overrides" in overlapping.json()["detail"]
            unknown = await alice.post("/v1/schedules/payments-primary/overrides", json={"user": "zed", **window})
            assert unknown.status_code == 422 and "unknown user 'zed'" in unknown.json()["detail"]
            backwards = {"user": "bob", "start": window["end"], "end": window["start"]}
            reversed_ = await alice.post("/v1/schedules/payments-primary/overrides", json=backwards)
            assert reversed_.status_code == 422 and "end must be after its start" in reversed_.json()["detail"]
            listed = (await api.get("/v1/schedules/payments-primary/overrides")).json()["items"]
            assert override["id"] in {o["id"] for o in listed}
        finally:
            removed = await alice.delete(f"/v1/schedules/payments-primary/overrides/{override['id']}")
    assert removed.status_code == 200
    assert (await _on_call(api))["user"] == "alice"
    trail = (await api.get("/v1/audit", params={"target_id": override["id"]})).json()["items"]
    assert [(e["action"], e["actor"]) for e in trail] == [("override.delete", "alice"), ("override.create", "alice")]


async def _first_page_to(pages: TopicReader, key: str) -> bool:
    return bool(pages_for(pages, key))


async def test_another_router_process_picks_the_override_up(
    router: RouterRuntime, api: httpx.AsyncClient, kafka_bootstrap: str, router_database_url: str
) -> None:
    now = router.state.clock.now()
    body = {
        "user": "bob",
        "start": (now + timedelta(days=30)).isoformat(),
        "end": (now + timedelta(days=31)).isoformat(),
    }
    other = RouterRuntime(
        router_settings(kafka_bootstrap, router_database_url, overrides_poll_seconds=0.2), consume=False
    )
    await other.start()
    try:
        created = (await api.post("/v1/schedules/payments-primary/overrides", json=body)).json()
        at = (now + timedelta(days=30, hours=1)).isoformat()
        async with client_for(other, TOKEN) as second:

            async def covered() -> bool:
                found = await second.get("/v1/oncall", params={"service": "checkout", "at": at})
                return bool(found.json()["levels"][0]["targets"][0]["user"] == "bob")

            await eventually(covered, what="the second process serving the override")
            removed = await api.delete(f"/v1/schedules/payments-primary/overrides/{created['override_id']}")
            assert removed.status_code == 200 and removed.json()["id"] == created["id"], removed.text

            async def uncovered() -> bool:
                return not await covered()

            await eventually(uncovered, what="the second process dropping the removed override")
    finally:
        other.stop()
        await asyncio.wait_for(other.wait(), 30)


async def test_an_override_removed_while_it_ran_stays_in_the_past_shifts_and_does_not_block_its_replacement(
    router: RouterRuntime, api: httpx.AsyncClient, router_clock: OffsetClock
) -> None:
    """Once removed (or over) an API override was no longer read at all: the shifts of last night showed the
    rotation's person, who was not on call, and the shift on call now seemed to have begun before the override."""
    began = router_clock.now() - timedelta(hours=2)
    body = {"user": "carol", "start": began.isoformat(), "end": (began + timedelta(hours=4)).isoformat()}
    created = await api.post("/v1/schedules/payments-primary/overrides", json=body)
    assert created.status_code == 201, created.text
    removed = await api.delete(f"/v1/schedules/payments-primary/overrides/{created.json()['id']}")
    assert removed.status_code == 200, removed.text
    assert (await _on_call(api))["user"] == "alice"

    window = {"from": (began - timedelta(hours=1)).isoformat(), "to": (began + timedelta(hours=1)).isoformat()}
    shifts = (await api.get("/v1/schedules/payments-primary/shifts", params=window)).json()["shifts"]
    *before, last = [(s["user"], s["override"]) for s in shifts]
    # alice's hour before it: two shifts when the weekly handoff (Monday 09:00 Berlin, alice to alice) falls in it
    # (the suite's clock moves on, so any hour of the week can be now)
    assert before and set(before) == {("alice", None)}, shifts
    assert last == ("carol", created.json()["override_id"]) and shifts[-1]["start"] == began.isoformat(), shifts

    # the removed one is history: a replacement for the same hours is not refused as overlapping it
    again = await api.post("/v1/schedules/payments-primary/overrides", json={**body, "user": "bob"})
    assert again.status_code == 201, again.text
    removed = await api.delete(f"/v1/schedules/payments-primary/overrides/{again.json()['id']}")
    assert removed.status_code == 200, removed.text


async def test_two_overlapping_overrides_made_at_once_are_not_both_taken(
    router: RouterRuntime, api: httpx.AsyncClient, router_clock: OffsetClock
) -> None:
    """The overlap check read this process's copy of the stored overrides, updated after each insert: two made at
    the same moment both passed, and of two that replace no one only the later was ever paged."""
    start = router_clock.now() + timedelta(days=3)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    url = "/v1/schedules/payments-primary/overrides"
    made = await asyncio.gather(*(api.post(url, json={"user": user, **window}) for user in ("carol", "bob")))
    assert sorted(r.status_code for r in made) == [201, 422], [r.text for r in made]
    (refused,) = [r for r in made if r.status_code == 422]
    assert "overlapping overrides" in refused.json()["detail"]
    (taken,) = [r for r in made if r.status_code == 201]
    assert (await api.delete(f"{url}/{taken.json()['id']}")).status_code == 200


async def test_an_override_removed_by_its_id_in_the_schedule_is_audited_under_its_id(
    router: RouterRuntime, api: httpx.AsyncClient, router_clock: OffsetClock
) -> None:
    """DELETE names an override by its id or by its id in the schedule (``api-…``: what the creation answered and
    shifts show). The removal was audited under the name the caller used, so ``/v1/audit?target_id=<its id>`` showed
    the override created and never removed, and the removal's entry named no override the trail knew."""
    start = router_clock.now() + timedelta(days=47)
    body = {"user": "bob", "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    url = "/v1/schedules/payments-primary/overrides"
    created = await api.post(url, json=body)
    assert created.status_code == 201, created.text
    removed = await api.delete(f"{url}/{created.json()['override_id']}")
    assert removed.status_code == 200, removed.text
    trail = (await api.get("/v1/audit", params={"target_id": created.json()["id"]})).json()["items"]
    assert [e["action"] for e in trail] == ["override.delete", "override.create"]


_FAIL_AT_COMMIT = """
CREATE OR REPLACE FUNCTION test_refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused at commit (test)'; END $$;
CREATE CONSTRAINT TRIGGER test_refuse_at_commit AFTER INSERT OR UPDATE ON router_schedule_override
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.reason = 'refused at commit')
EXECUTE FUNCTION test_refuse_at_commit();
"""


async def test_a_change_the_database_refuses_at_commit_leaves_the_process_copy_as_stored(
    router: RouterRuntime, api: httpx.AsyncClient, router_clock: OffsetClock
) -> None:
    """Creating and removing an override put the process's copy of the stored overrides in force before the
    transaction committed: a commit refused (a deferred constraint, the connection lost at COMMIT) left this
    process paging an override that did not exist, or not one that still did, until the next refresh."""
    start = router_clock.now() + timedelta(days=61)
    body = {"user": "bob", "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    url = "/v1/schedules/payments-primary/overrides"
    kept = await api.post(url, json={**body, "reason": "refused at commit"})  # stored before the trigger
    assert kept.status_code == 201, kept.text

    def copied() -> set[str]:
        return {o.id for o in router.state.configs.stored if o.starts_at == start}

    assert copied() == {kept.json()["id"]}
    async with router.state.pool.acquire() as conn:
        await conn.execute(_FAIL_AT_COMMIT)
    try:
        later = {
            **body,
            "start": (start + timedelta(hours=3)).isoformat(),
            "end": (start + timedelta(hours=4)).isoformat(),
        }
        refused = await api.post(url, json={**later, "reason": "refused at commit"})
        assert refused.status_code >= 500, refused.text
        assert not [o for o in router.state.configs.stored if o.starts_at > start and o.user_id == "bob"]
        not_removed = await api.delete(f"{url}/{kept.json()['id']}")
        assert not_removed.status_code >= 500, not_removed.text
        assert copied() == {kept.json()["id"]}  # still stored, so still in force
    finally:
        async with router.state.pool.acquire() as conn:
            await conn.execute("DROP TRIGGER test_refuse_at_commit ON router_schedule_override")
    assert (await api.delete(f"{url}/{kept.json()['id']}")).status_code == 200
