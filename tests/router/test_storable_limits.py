"""Values at the event contract's limits are stored and acted on, on the real path (Kafka → router → PostgreSQL).

Each case failed the router's write before (a value longer than its column): the event was dead-lettered, so an
alert with a long ``group_by`` label never paged, and a resolve from an integration with a long id left its
incident escalating; through the API, a long-named machine client got a 500 for an acknowledgement.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import MAX_ID_CHARS, MAX_PAGE_ID_CHARS, AlertAction, AlertEvent, PageKind
from alertrouter_shared.topics import ALERTS, ALERTS_DLQ
from tests.helpers import TopicReader, eventually
from tests.router.access_support import client_for, new_token
from tests.router.conftest import alert_event, decisions_for, paged, pages_for, send


async def test_long_group_by_label_values_page_and_group(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    labels = {"service": "sharded", "alertname": "CrashLooping", "pod": f"checkout-{'a' * 5_000}-{unique}"}
    await send(producer, alert_event(key, labels))
    await eventually(lambda: paged(pages, key), what="the page of an alert whose group key is 5,000 characters")
    await send(producer, alert_event(f"{key}-2", labels))
    grouped = (await decisions_for(api, f"{key}-2", 1))[0]
    first = (await decisions_for(api, key, 1))[0]
    assert grouped["outcome"] == "grouped" and grouped["incident_id"] == first["incident_id"]
    incident = (await api.get(f"/v1/incidents/{first['incident_id']}")).json()["incident"]
    assert incident["group_key"].startswith("sharded|sha256:")


async def test_acknowledge_and_resolve_from_an_integration_with_the_longest_id(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    labels = {"service": "checkout", "alertname": "Down"}
    await send(producer, alert_event(key, labels))
    incident_id = (await decisions_for(api, key, 1))[0]["incident_id"]
    source = f"{unique}-".ljust(MAX_ID_CHARS, "i")

    for action, status in ((AlertAction.ACKNOWLEDGE, "acknowledged"), (AlertAction.RESOLVE, "resolved")):
        await send(producer, alert_event(key, labels, action).model_copy(update={"integration_id": source}))

        async def reached(status: str = status) -> dict[str, Any] | None:
            found: dict[str, Any] = (await api.get(f"/v1/incidents/{incident_id}")).json()["incident"]
            return found if found["status"] == status else None

        incident = await eventually(reached, what=f"the incident {status} by the source")
        assert incident[f"{status}_by"] == f"source:{source}"


async def test_a_machine_client_with_the_longest_name_acknowledges_and_plans_maintenance(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    name = f"{unique}-".ljust(MAX_ID_CHARS, "c")
    secret = await new_token(api, client=name, role="admin")
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "checkout", "alertname": "Down"}))
    incident_id = (await decisions_for(api, key, 1))[0]["incident_id"]
    ends = (router_clock.now() + timedelta(minutes=30)).isoformat()
    async with client_for(router, secret) as bot:
        acknowledged = await bot.post(f"/v1/incidents/{incident_id}/acknowledge", json={})
        assert acknowledged.status_code == 200, acknowledged.text
        window = await bot.post("/v1/services/skipper/maintenance", json={"ends_at": ends, "reason": unique})
        assert window.status_code == 201, window.text
        assert (await bot.delete(f"/v1/services/skipper/maintenance/{window.json()['id']}")).status_code == 200
    incident = (await api.get(f"/v1/incidents/{incident_id}")).json()["incident"]
    assert incident["acknowledged_by"] == f"client:{name}"
    assert window.json()["created_by"] == f"client:{name}"


async def test_pages_and_notices_for_the_longest_user_and_contact_method_ids(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    """A page id names the incident, the position, the user and the contact method: with ids of 128 characters
    the notices were longer than the outbox's 200, so acknowledging answered 500 and the step timer failed every
    pass (holding up every other incident's escalation)."""
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "longnames", "alertname": "Down"}))
    await eventually(lambda: paged(pages, key), what="the first page to the long-named user")
    incident_id = (await decisions_for(api, key, 1))[0]["incident_id"]
    escalated = await api.post(f"/v1/incidents/{incident_id}/escalate", json={})
    assert escalated.status_code == 200, escalated.text
    acknowledged = await api.post(f"/v1/incidents/{incident_id}/acknowledge", json={"by": "bob"})
    assert acknowledged.status_code == 200, acknowledged.text

    async def notices() -> set[PageKind] | None:
        found = {p.kind for p in pages_for(pages, key) if len(p.page_id) > 200}
        return found if {PageKind.TRIGGER, PageKind.ESCALATED, PageKind.ACKNOWLEDGED} <= found else None

    await eventually(notices, what="a trigger, an escalation and an acknowledgement notice of over 200 characters")
    assert max(len(p.page_id) for p in pages_for(pages, key)) <= MAX_PAGE_ID_CHARS


async def test_an_alert_the_database_refuses_is_dead_lettered_and_the_rest_of_its_batch_pages(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_database_url: str,
    kafka_bootstrap: str,
    unique: str,
) -> None:
    """No input of ours is known to fail the write for a reason other than an outage (each such input found was
    mended), so a trigger of the test's database refuses one alert: the others of its batch must still page,
    and it must reach the dead-letter topic rather than hold the partition back. A not_stored decision says why
    nobody was paged (none before: the decisions API knew nothing of it), and the key's next alert, which the
    database takes, is decided and pages."""
    poison = f"am:test-am:{unique}-poison"
    refuse = f"""
        CREATE OR REPLACE FUNCTION refuse_alert_{unique}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '23514'; END $$;
        CREATE OR REPLACE TRIGGER refuse_alert_{unique} BEFORE INSERT ON router_alert FOR EACH ROW
        WHEN (NEW.dedup_key = '{poison}') EXECUTE FUNCTION refuse_alert_{unique}();
    """
    conn = await asyncpg.connect(**connect_arguments(router_database_url))
    counted = REGISTRY.get_sample_value("alertrouter_records_dead_lettered_total", {"topic": ALERTS_DLQ}) or 0.0
    dead_letters = await TopicReader(kafka_bootstrap, ALERTS_DLQ).start()
    try:
        await conn.execute(refuse)
        keys = [f"am:test-am:{unique}-before", poison, f"am:test-am:{unique}-after"]
        for key in keys:  # back to back: one poll, one batch, as far as the consumer can tell
            await producer.send(
                ALERTS,
                alert_event(key, {"service": "checkout", "alertname": key}).model_dump_json().encode(),
                key=key.encode(),
            )
        await producer.flush()
        for key in (keys[0], keys[2]):
            await eventually(partial(paged, pages, key), what=f"the page of {key}")

        async def dead_lettered() -> list[tuple[bytes, dict[str, bytes]]] | None:
            found = zip(dead_letters.values, dead_letters.headers, strict=True)
            return [(value, headers) for value, headers in found if poison.encode() in value] or None

        [(refused, headers)] = await eventually(dead_lettered, what="the refused alert in the dead-letter topic")
        # and says why, for whoever replays it (a count alone, before)
        assert headers["error"] == b"could not be stored: see record_not_stored"
        assert headers["source_topic"] == ALERTS.encode()
        # counted, for AlertrouterRecordsDeadLettered: an alert that paged nobody must not show in a log line only
        now = REGISTRY.get_sample_value("alertrouter_records_dead_lettered_total", {"topic": ALERTS_DLQ})
        assert now is not None and now >= counted + 1
        [decision] = await decisions_for(api, poison, 1)
        assert decision["outcome"] == "not_stored" and decision["service_id"] == "checkout"
        assert decision["event_id"] is None  # the event replayed from the dead-letter topic must be decided then
        assert "refused by the test" in decision["reason"] and ALERTS_DLQ in decision["reason"]
        explained = (await api.get(f"/v1/decisions/{decision['id']}/explain")).text
        assert "Outcome: not_stored — could not be stored, so nobody was paged" in explained
        await conn.execute(f"DROP TRIGGER refuse_alert_{unique} ON router_alert")
        # the refusal swallows no later alert of the key
        await send(producer, alert_event(poison, {"service": "checkout", "alertname": poison}))
        await eventually(partial(paged, pages, poison), what="the page of the key's next alert")
        assert [d["outcome"] for d in await decisions_for(api, poison, 2)] == ["not_stored", "paged"]
    finally:
        await dead_letters.stop()
        await conn.execute(f"DROP TRIGGER IF EXISTS refuse_alert_{unique} ON router_alert")
        await conn.close()
    assert AlertEvent.model_validate_json(refused).dedup_key == poison
    assert len([p for p in pages_for(pages, poison) if p.kind is PageKind.TRIGGER]) == 1


async def test_a_refused_alert_whose_decision_is_refused_too_is_counted_and_the_partition_moves_on(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_database_url: str,
    kafka_bootstrap: str,
    unique: str,
) -> None:
    """What the database refused may break the not_stored decision too: the event is dead-lettered all the same,
    the failure counted (and logged), and the consumer goes on to the next alert."""
    poison, after = f"am:test-am:{unique}-poison", f"am:test-am:{unique}-after"
    refuse = f"""
        CREATE OR REPLACE FUNCTION refuse_{unique}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '22021'; END $$;
        CREATE OR REPLACE TRIGGER refuse_alert_{unique} BEFORE INSERT ON router_alert FOR EACH ROW
        WHEN (NEW.dedup_key = '{poison}') EXECUTE FUNCTION refuse_{unique}();
        CREATE OR REPLACE TRIGGER refuse_decision_{unique} BEFORE INSERT ON router_decision FOR EACH ROW
        WHEN (NEW.dedup_key = '{poison}') EXECUTE FUNCTION refuse_{unique}();
    """
    metric = "alertrouter_router_not_stored_decisions_failed_total"
    failed = REGISTRY.get_sample_value(metric) or 0.0
    conn = await asyncpg.connect(**connect_arguments(router_database_url))
    dead_letters = await TopicReader(kafka_bootstrap, ALERTS_DLQ).start()
    try:
        await conn.execute(refuse)
        await send(producer, alert_event(poison, {"service": "checkout", "alertname": "Poison"}))
        # on the refused alert's partition (its key), after it: only paged if the consumer got past it
        later = alert_event(after, {"service": "checkout", "alertname": "After"}).model_dump_json().encode()
        await producer.send_and_wait(ALERTS, later, key=poison.encode())
        await eventually(partial(paged, pages, after), what="the page of the alert after the refused one")
        await eventually(
            lambda: _found(any(poison.encode() in value for value in dead_letters.values)),
            what="the refused alert in the dead-letter topic",
        )
        await eventually(
            lambda: _found((REGISTRY.get_sample_value(metric) or 0.0) >= failed + 1),
            what="the not_stored decision's failure counted",
        )
        response = await api.get("/v1/decisions", params={"dedup_key": poison})
        assert response.json()["items"] == []
    finally:
        await dead_letters.stop()
        await conn.execute(f"DROP TRIGGER IF EXISTS refuse_alert_{unique} ON router_alert")
        await conn.execute(f"DROP TRIGGER IF EXISTS refuse_decision_{unique} ON router_decision")
        await conn.close()


async def _found(condition: bool) -> bool | None:
    return condition or None
