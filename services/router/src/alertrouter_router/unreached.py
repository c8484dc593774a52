"""A level that reached nobody escalates at once: every page of it failed for good, so waiting helps no one.

Delivery results come back from the notifier on the deliveries topic. When one says a page failed for good
(failed, undelivered, expired — a voice call not answered counts as undelivered), the router looks at every page
of that escalation level: if the latest result of each is such a failure, ``decide`` gets a ``NotReached`` and
pages the next level now, with a decision that names who was not reached and how. A page with no result yet (one
held for a notification rule's delay, one still in flight) keeps its level waiting. A result is the evidence that
a page went out, not the outbox's ``published_at``: the router marks a page published after Kafka acknowledged
it, and a fast failure (a webhook's 4xx, an SMS refused at once) can come back before that mark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alertrouter_router import work
from alertrouter_router.db import snapshot_reads
from alertrouter_router.decisions.batch import Snapshot
from alertrouter_router.decisions.inputs import NotReached
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_shared.events import DeliveryResult, DeliveryStatus

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

# ``cancelled`` is not among them: the notifier ended the page unsent because the incident was acknowledged or
# resolved first, so nobody failed to reach anyone and nothing is escalated (a page with that latest result keeps
# its level from counting as unreached, like one sent).
FAILED_FOR_GOOD = frozenset({DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED, DeliveryStatus.EXPIRED})


@dataclass(frozen=True, slots=True)
class PageState:
    page_id: str
    status: str | None  # the latest delivery result's status, if any
    channel: str | None
    error: str | None
    reason: str | None = None  # the notifier's own short phrase ("voice no-answer", "sms undelivered (30003)")


def _position(page_id: str) -> tuple[str, int, int, str] | None:
    """(incident, round, 0-based level, user) of an escalation page id; None for status updates."""
    parts = page_id.split(":")
    if len(parts) != 5 or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    return parts[0], int(parts[1]), int(parts[2]) - 1, parts[3]


def unreached_levels(pages: Iterable[PageState]) -> list[NotReached]:
    """The levels whose every page failed for good (pure)."""
    levels: dict[tuple[str, int, int], list[tuple[str, PageState]]] = {}
    for page in pages:
        position = _position(page.page_id)
        if position is not None:
            incident_id, round_, level, user = position
            levels.setdefault((incident_id, round_, level), []).append((user, page))
    found = []
    for (incident_id, round_, level), members in sorted(levels.items()):
        if all(p.status in FAILED_FOR_GOOD for _, p in members):
            failures = tuple(f"{user} not reached: {_why(p)}" for user, p in members)
            found.append(NotReached(incident_id, round_, level, failures))
    return found


def _why(page: PageState) -> str:
    if page.reason:
        return page.reason
    return f"{page.channel} {page.status}" + (f" ({page.error})" if page.error else "")


def incidents_with_failures(results: Iterable[DeliveryResult]) -> list[str]:
    return sorted({r.incident_id for r in results if r.status in FAILED_FOR_GOOD})


async def escalate_unreached(state: RouterState, incident_ids: list[str]) -> int:
    """After delivery results were stored: escalate the levels of these incidents that reached nobody."""
    if not incident_ids:
        return 0
    config, now = state.configs.current, state.clock.now()
    async with state.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT o.page_id, d.status, d.channel, d.error, d.reason "
            "FROM router_outbox o LEFT JOIN LATERAL (SELECT t.data->>'status' AS status, "
            "t.data->>'channel' AS channel, t.data->>'error' AS error, t.data->>'failure_reason' AS reason "
            "FROM router_timeline t "
            "WHERE t.incident_id = o.incident_id AND t.kind = 'delivery' AND t.data->>'page_id' = o.page_id "
            "ORDER BY t.at DESC, t.id DESC LIMIT 1) d ON true WHERE o.incident_id = ANY($1::text[]) ORDER BY o.page_id",
            incident_ids,
        )
        inputs = unreached_levels(PageState(**dict(row)) for row in rows)
        if not inputs:
            return 0
        snapshot = Snapshot(
            incidents=await snapshot_reads.read_incidents(conn, incident_ids, [], now, lock=True),
            decided=await snapshot_reads.read_decided_steps(
                conn, [f"{i.incident_id}:{i.round}:{i.level}:not-reached" for i in inputs]
            ),
        )
        snapshot.members = await snapshot_reads.read_members(conn, list(snapshot.incidents))
        effects, recorded = await work.run_unit(conn, inputs, snapshot, Maintenance(), config, now, state.rules)
    work.after_commit(effects, recorded, now, state.publisher)
    return len(effects.decisions)
