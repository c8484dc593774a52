"""The policy's repeats for an incident first reached by a retry after nobody was reachable (no database)."""

from __future__ import annotations

from datetime import datetime

from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.events import PageKind
from tests.router.unit.decide_support import CONFIG, T0, Store, event, minutes

COVERAGE = datetime(2090, 1, 1, 0, 1, tzinfo=T0.tzinfo)  # future-only's first shift has begun: carol


def _repeating_nobody(repeat: int) -> LoadedConfig:
    """Policy ``nobody`` (future-only's carol, paged from 2090) with ``repeat`` more rounds."""
    document = CONFIG.config.model_dump()
    for policy in document["escalation_policies"]:
        if policy["id"] == "nobody":
            policy["repeat"] = repeat
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, "repeating", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def test_an_incident_opened_while_nobody_was_reachable_still_repeats_once_someone_is() -> None:
    """Each retry is a round of its own, and they used up the policy's repeats: carol, first reached by a retry,
    was paged once and never again although nobody acknowledged (repeat: 2 promises three pages)."""
    store = Store()
    store.config = _repeating_nobody(2)
    store.run([event("n", service="unstaffed")], T0)
    incident_id = store.last("n").incident_id or ""
    for retry in (5, 10, 15):
        store.tick(T0 + minutes(retry))
    store.tick(COVERAGE)
    assert store.decisions[-1].explanation["round"] == 1  # the first round of paging someone
    store.tick(COVERAGE + minutes(5))
    store.tick(COVERAGE + minutes(10))
    store.tick(COVERAGE + minutes(15))
    assert [p.user_id for p in store.pages_for(incident_id) if p.kind is PageKind.TRIGGER] == ["carol"] * 3
    assert store.pending_steps == {}
