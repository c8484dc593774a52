"""A delayed page (a notification rule's ``delay_minutes``) goes to the address its contact method has when it is
sent, not to the one it had when the page was decided: a reload in between may have replaced a phone the person no
longer carries. On a database of the module's own with a clock the test sets; the outbox poller's pass is called as
the publisher calls it, onto the real pages topic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.pool import make_pool
from alertrouter_router.outbox import publish_due
from alertrouter_router.ownership.loader import LoadedConfig, load_config
from alertrouter_router.pipeline import process_batch
from alertrouter_router.state import RouterState
from alertrouter_shared.events import Page
from tests.helpers import DatabaseFactory, TopicReader, eventually
from tests.router.conftest import CONFIG, alert_event, pages_for
from tests.router.loop_support import T0, loop_state, migrated_database

NEW_NUMBER = "+15005550009"


@pytest.fixture(scope="module")
def outbox_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
async def state(outbox_database: str) -> AsyncIterator[RouterState]:
    pool = await make_pool(outbox_database, 4)
    yield loop_state(pool, SimpleNamespace(current=load_config(CONFIG)))
    await pool.close()


def _alice_renumbered(folder: Path) -> LoadedConfig:
    document = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    [alice] = [u for u in document["users"] if u["id"] == "alice"]
    [sms] = [m for m in alice["contact_methods"] if m["id"] == "alice-sms"]
    sms["address"] = NEW_NUMBER
    folder.mkdir()
    (folder / "ownership.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_config(folder)


async def test_a_delayed_sms_goes_to_the_number_in_force_when_it_is_sent(
    state: RouterState, producer: AIOKafkaProducer, pages: TopicReader, tmp_path: Path, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    event = alert_event(key, {"service": "checkout", "alertname": "Down"}, occurred_at=T0, received_at=T0)
    effects = await process_batch(state, [event], now=T0)
    incident_id = effects.decisions[0].incident_id
    async with state.pool.acquire() as conn:
        decided = await conn.fetchval(
            "SELECT payload FROM router_outbox WHERE incident_id = $1 AND page_id LIKE '%:alice-sms%'", incident_id
        )
    assert Page.model_validate_json(decided).contact_method.address == "+15005550006"  # alice's number then

    state.configs.current = _alice_renumbered(tmp_path / "renumbered")  # what a reload does
    config = state.configs.current.config
    later = T0 + timedelta(minutes=3)  # the SMS rule's two minutes have passed: the poller's pass sends it
    while await publish_due(state.pool, producer, later, config) > 0:
        pass

    await eventually(lambda: _sms_pages(pages, key), what="the delayed SMS on the pages topic")
    [sent] = await _sms_pages(pages, key)
    assert sent.contact_method.address == NEW_NUMBER
    async with state.pool.acquire() as conn:  # the outbox says what was sent (reports read it)
        row = await conn.fetchrow("SELECT payload, published_at FROM router_outbox WHERE page_id = $1", sent.page_id)
        ended = await conn.execute(
            "UPDATE router_incident SET status = 'resolved', resolved_at = $2 WHERE id = $1", incident_id, later
        )
        await conn.execute(
            "UPDATE router_escalation_step SET status = 'cancelled' WHERE incident_id = $1 AND status = 'pending'",
            incident_id,
        )
    assert row is not None and row["published_at"] == later
    assert Page.model_validate_json(row["payload"]).contact_method.address == NEW_NUMBER
    assert ended == "UPDATE 1"


async def _sms_pages(reader: TopicReader, key: str) -> list[Page]:
    return [p for p in pages_for(reader, key) if p.contact_method.id == "alice-sms"]
