"""A responder's notes, reassignments and added responders through the API: decided by ``decide`` (a decision
each, in the timeline and in ``explain``), paged through the outbox, recorded in the audit trail."""

from __future__ import annotations

import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router.console.timeline_words import in_words
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.events import PageKind
from tests.helpers import TopicReader, eventually
from tests.router.access_support import client_for, new_token, open_incident
from tests.router.conftest import pages_for


async def test_notes_reassign_and_responders_as_a_person(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    incident = await open_incident(api, producer, "checkout", key)
    secret = await new_token(api, user="bob", role="responder")
    async with client_for(router, secret) as bob:
        noted = await bob.post(f"/v1/incidents/{incident}/notes", json={"note": "db failover running"})
        assert noted.status_code == 200 and noted.json()["outcome"] == "noted"
        assert (await bob.post(f"/v1/incidents/{incident}/notes", json={})).status_code == 422

        reassigned = await bob.post(f"/v1/incidents/{incident}/reassign", json={"user": "carol", "note": "db expert"})
        assert reassigned.status_code == 200, reassigned.text
        assert reassigned.json()["reason"] == "reassigned by bob (db expert): paged carol"

        added = await bob.post(f"/v1/incidents/{incident}/responders", json={"schedule": "payments-primary"})
        assert added.status_code == 200 and added.json()["reason"] == "responder added by bob: paged alice"

        unknown = await bob.post(f"/v1/incidents/{incident}/reassign", json={"user": "mallory"})
        assert unknown.status_code == 422 and "'mallory' is not in the ownership configuration" in unknown.text
        both = await bob.post(f"/v1/incidents/{incident}/responders", json={"user": "carol", "schedule": "x"})
        assert both.status_code == 422 and "exactly one of 'user' and 'schedule'" in both.json()["detail"]

    async def paged() -> list[str] | None:
        found = [p.page_id for p in pages_for(pages, key) if p.kind is PageKind.TRIGGER]
        return found if any(":reassign:" in p for p in found) and any(":add_responder:" in p for p in found) else None

    page_ids = await eventually(paged, what="the reassigned and the added responder's pages")
    assert {p.split(":")[-2] for p in page_ids if ":reassign:" in p} == {"carol"}
    assert {p.split(":")[-2] for p in page_ids if ":add_responder:" in p} == {"alice"}

    shown = (await api.get(f"/v1/incidents/{incident}")).json()
    reasons = [e.get("reason") for e in shown["timeline"] if e["kind"] == "decision"]
    assert "note by bob: db failover running" in reasons
    assert "reassigned by bob (db expert): paged carol" in reasons
    explained = await api.get(f"/v1/decisions/{reassigned.json()['decision_id']}/explain")
    assert "reassigned by bob" in explained.text and "Carol" in explained.text

    first = (await api.get("/v1/audit", params={"target_id": incident, "limit": 2})).json()
    assert [e["action"] for e in first["items"]] == ["incident.add_responder", "incident.reassign"]
    assert first["items"][1]["after"]["target"] == {"type": "user", "id": "carol"}
    rest = (await api.get("/v1/audit", params={"target_id": incident, "cursor": first["next_cursor"]})).json()
    assert [e["action"] for e in rest["items"]] == ["incident.note"] and rest["next_cursor"] is None
    assert all(e["actor"] == "bob" and e["team_id"] == "payments" for e in first["items"] + rest["items"])
    assert (await api.get("/v1/audit", params={"cursor": "bm9wZQ=="})).status_code == 422


async def test_the_timeline_gives_a_new_cycle_s_pages_the_round_their_decision_says(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    """Escalating to level 1 starts a new cycle: its decision says "paged level 1 (round 1)", and its page id
    numbers the round on (``<incident>:1:1:…``); the incident page's words for that page said "round 2"."""
    key = f"am:test-am:{unique}"
    incident = await open_incident(api, producer, "checkout", key)
    escalated = await api.post(f"/v1/incidents/{incident}/escalate", json={"by": "bob", "level": 1})
    assert escalated.status_code == 200, escalated.text
    assert "paged level 1 (round 1)" in escalated.json()["reason"]
    decision_id = escalated.json()["decision_id"]
    timeline = (await api.get(f"/v1/incidents/{incident}")).json()["timeline"]
    [decided] = [e for e in timeline if e.get("decision_id") == decision_id and e["kind"] == "decision"]
    assert decided["round"] == 1
    new_cycle = [e for e in timeline if e["kind"] == "page" and e.get("decision_id") == decision_id]
    assert new_cycle and all(e["page_id"].startswith(f"{incident}:1:1:alice:") for e in new_cycle)
    words = [line.text for line in in_words(timeline, "UTC") if line.kind == "page"]
    assert any(w.startswith("to alice via alice-hook (level 1, round 1)") for w in words), words
    assert not any("round 2" in w for w in words), words
