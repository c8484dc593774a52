"""Turning a batch of pages from Kafka into delivery rows, in one transaction.

New pages become ``pending`` rows (the durable queue), or ``sending`` when due now and the dispatcher has a free
slot for them (claimed by their INSERT, sent as soon as this commits); pages seen before are skipped by the unique
constraint; pages older than the maximum age become ``expired``; pages over their destination's flood budget
become ``throttled`` and feed the next digest (a drill page is never counted or held: ``_throttled``; a Slack
notice that updates its trigger's message in place neither: ``_let_edits_through``). An ``acknowledged`` or
``resolved`` page ends, unsent, its incident's pages still waiting (``cancel_superseded``). Only after this commits
does the consumer commit its offsets.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_notifier.channels.slack import edits_in_place
from alertrouter_notifier.db.cancellations import cancel_waiting
from alertrouter_notifier.db.ledger import (
    AttemptRecord,
    ClaimedDelivery,
    NewDelivery,
    insert_deliveries,
    mark_final,
    new_delivery_row,
)
from alertrouter_notifier.db.sent_pages import message_of, slack_triggers_posted
from alertrouter_notifier.db.tables import RowState
from alertrouter_notifier.digests import flush_digest
from alertrouter_notifier.policy import DeliveryPolicy
from alertrouter_notifier.throttle import Budget, budget_of, lock_window, save_window
from alertrouter_shared.events import DeliveryStatus, Page, PageKind


@dataclass
class IntakeOutcome:
    claimed: list[ClaimedDelivery] = field(default_factory=list)  # to send now, claimed by their INSERT
    dispatch_now: list[str] = field(default_factory=list)  # due now, to claim and send
    results: list[int] = field(default_factory=list)
    duplicates: int = 0
    # Deliveries this admission ended (expired, throttled, cancelled), by channel and outcome: counted in
    # alertrouter_notifier_deliveries_total once the admission commits, as the dispatcher counts the ends of sends.
    ended: Counter[tuple[str, str]] = field(default_factory=Counter)


def one_statement(pages: Sequence[Page], now: datetime, policy: DeliveryPolicy) -> bool:
    """True when admitting ``pages`` is their INSERT alone (nothing expired, no flood window to lock), so the
    caller can skip BEGIN/COMMIT: two of the six database round trips of a page arriving on its own. A batch
    split into several INSERTs by the driver and cut short is still safe: offsets are not committed, and the
    redelivered pages already stored are skipped by the unique constraint."""
    return not any(policy.is_expired(p, now) or _throttled(p, policy) or p.kind in ENDING for p in pages)


# An incident acknowledged or resolved ends, unsent, the pages of it still waiting of these kinds. A resolve ends
# a waiting acknowledged notice too: sent after the resolved one (both waiting out Slack's Retry-After, say), it set
# the page's message back to "acknowledged", with a Resolve button, for an incident over.
ENDING = {PageKind.RESOLVED: "resolved", PageKind.ACKNOWLEDGED: "acknowledged"}
SUPERSEDED = {
    PageKind.ACKNOWLEDGED: frozenset({PageKind.TRIGGER, PageKind.ESCALATED}),
    PageKind.RESOLVED: frozenset({PageKind.TRIGGER, PageKind.ESCALATED, PageKind.ACKNOWLEDGED}),
}


@dataclass(frozen=True)
class Endings:
    """What the ``acknowledged``/``resolved`` pages of a batch end: ``reasons`` (incident id -> the error the ended
    deliveries record), and ``before``: the (page id, contact method id) of the batch's own pages they end, those
    that came before the ending page in the batch. A page after it (a responder added, a snooze's new cycle, just
    after an acknowledgement) is news of its own and goes out."""

    reasons: dict[str, str] = field(default_factory=dict)
    before: set[tuple[str, str]] = field(default_factory=set)
    kinds: dict[str, frozenset[PageKind]] = field(default_factory=dict)  # incident id -> the kinds it ends


def endings(pages: Sequence[Page]) -> Endings:
    if not any(p.kind in ENDING for p in pages):  # the trigger hot path: one scan, nothing else
        return Endings()
    last: dict[str, int] = {}
    kind: dict[str, PageKind] = {}
    for n, page in enumerate(pages):
        if page.kind in ENDING:
            last[page.incident_id] = n
            if kind.get(page.incident_id) is not PageKind.RESOLVED:
                kind[page.incident_id] = page.kind
    reasons = {
        incident: f"not sent: the incident was {ENDING[k]} before this page could be delivered"
        for incident, k in kind.items()
    }
    kinds = {incident: SUPERSEDED[k] for incident, k in kind.items()}
    before = {
        (p.page_id, p.contact_method.id)
        for n, p in enumerate(pages)
        if p.kind in kinds.get(p.incident_id, ()) and n < last[p.incident_id]
    }
    return Endings(reasons, before, kinds)


def _throttled(page: Page, policy: DeliveryPolicy) -> bool:
    """Whether the page goes through its destination's flood window. A drill page never does: a rehearsal must
    not use up the budget that lets a real page through, be held back itself, or lend its ``drill`` flag (the
    digest is a copy of the last page held) to a digest of real pages."""
    return not page.drill and page.kind is not PageKind.DIGEST and policy.throttle_limit(page.contact_method.type) > 0


def _unique(pages: Sequence[Page]) -> list[Page]:
    seen: dict[tuple[str, str], Page] = {}
    for page in pages:
        seen.setdefault((page.page_id, page.contact_method.id), page)
    return list(seen.values())


DeliveryRows: TypeAlias = list[tuple[Page, dict[str, Any]]]


def delivery_rows(pages: Sequence[Page], now: datetime, policy: DeliveryPolicy, *, send_slots: int = 0) -> DeliveryRows:
    """``send_slots``: how many due pages the caller will start sending as soon as the rows commit; those rows are
    inserted already claimed (flood-limited channels excepted: their window decides after the insert)."""
    rows = []
    ended = endings(pages).before  # inserted pending, so that the admission can end them
    for page in _unique(pages):
        claim = send_slots > 0 and not _throttled(page, policy) and (page.page_id, page.contact_method.id) not in ended
        row = new_delivery_row(page, now, policy, claim=claim)
        if row["status"] == RowState.SENDING.value:
            send_slots -= 1
        rows.append((page, row))
    return rows


def claimed_by_insert(rows: DeliveryRows) -> list[str]:
    """The ids of the rows inserted already claimed: what an admission whose commit is in doubt may hold."""
    return [row["id"] for _, row in rows if row["status"] == RowState.SENDING.value]


async def admit_pages(
    conn: AsyncConnection, pages: Sequence[Page], now: datetime, policy: DeliveryPolicy, *, send_slots: int = 0
) -> IntakeOutcome:
    return await admit_rows(conn, delivery_rows(pages, now, policy, send_slots=send_slots), len(pages), now, policy)


async def admit_rows(
    conn: AsyncConnection, rows: DeliveryRows, received: int, now: datetime, policy: DeliveryPolicy
) -> IntakeOutcome:
    """``rows`` from ``delivery_rows`` for ``received`` pages (the same page twice in a batch is one row)."""
    new = await insert_deliveries(conn, rows, now)
    outcome = IntakeOutcome(duplicates=received - len(new))
    cancelled = await cancel_superseded(conn, rows, now, outcome)
    to_throttle: dict[tuple[str, Budget], list[NewDelivery]] = defaultdict(list)
    for item in new:
        if item.id in cancelled:
            continue
        if item.status is RowState.SENDING:
            outcome.claimed.append(
                ClaimedDelivery(item.id, item.page, 1, 0, deadline_at=item.deadline_at, failover_at=item.failover_at)
            )
        elif item.status is RowState.EXPIRED:
            outcome.ended[(item.page.contact_method.type.value, DeliveryStatus.EXPIRED.value)] += 1
            age = policy.page_age(item.page, now).total_seconds()
            record = AttemptRecord(DeliveryStatus.EXPIRED, error=f"page is {age:.0f}s old, older than the maximum age")
            outcome.results.append(await mark_final(conn, item.id, 0, record, now, claimed=False))
        elif _throttled(item.page, policy):
            to_throttle[(item.throttle_key, budget_of(item.page.kind))].append(item)
        elif item.due:
            outcome.dispatch_now.append(item.id)
    if any(budget is Budget.NOTICES for _, budget in to_throttle):
        await _let_edits_through(conn, to_throttle, new, outcome)
    for key in sorted(to_throttle):  # a fixed lock order: replicas never deadlock on two windows
        await _apply_throttle(conn, key, to_throttle[key], now, policy, outcome)
    return outcome


async def cancel_superseded(
    conn: AsyncConnection, rows: DeliveryRows, now: datetime, outcome: IntakeOutcome
) -> set[str]:
    """An ``acknowledged`` or ``resolved`` page ends, unsent, the trigger and ``escalated`` deliveries of its incident
    still waiting -- ``pending`` (not yet due included) or ``retrying`` after a transient failure (Slack's 429, an
    SMS provider's 503, a webhook timeout) -- for everyone paged, not only the person it tells: a trigger sent
    after the incident was over, or taken, woke someone with live Acknowledge/Resolve buttons for nothing, and in
    Slack came after the resolve notice it should have preceded. An acknowledged incident stops notifying, as in
    PagerDuty: someone has it, and whoever is paged next is paged by the router (a snooze's or ack timeout's new
    cycle), with new pages; drills follow the same rule. A delivery being sent cannot be called back and is left.

    Each ends ``cancelled``, never silently: its error says why, and an attempt row publishes it to the router,
    for which it is neither reached nor failed for good (no escalation). Returns the ids ended; the statement runs
    only for a batch holding such a page, so a trigger's admission costs nothing more."""
    ends = endings([page for page, _ in rows])
    if not ends.reasons:
        return set()
    spared = [
        row["id"]
        for page, row in rows
        if page.incident_id in ends.reasons
        and page.kind in ends.kinds[page.incident_id]
        and (page.page_id, page.contact_method.id) not in ends.before
    ]
    kinds = {incident: sorted(k.value for k in ended_kinds) for incident, ended_kinds in ends.kinds.items()}
    ended = await cancel_waiting(conn, ends.reasons, kinds, spared, now)
    for item in ended:
        outcome.ended[(item.channel, DeliveryStatus.CANCELLED.value)] += 1
        outcome.results.append(item.attempt_id)
    return {item.delivery_id for item in ended}


async def _let_edits_through(
    conn: AsyncConnection,
    to_throttle: dict[tuple[str, Budget], list[NewDelivery]],
    new: Sequence[NewDelivery],
    outcome: IntakeOutcome,
) -> None:
    """Slack notices that will update their trigger's message in place (``chat.update``) are neither counted nor
    held by the notices budget: an edit posts no new message (no notification, no noise), and when every update of
    a storm was held, the held incidents' messages kept saying "triggered", with live buttons, for good. Slack's own
    rate limit on updates is a transient failure retried after its Retry-After (dispatcher).

    Only a notice whose trigger has a message, or is on its way to one, is let through: the notices of incidents
    whose trigger was held (no message) would be posted anew and stay under the budget. A trigger admitted with the
    notice has no say (its window decides later). One that then never gets a message (it fails, or the message
    was deleted) has its notice posted anew, unbudgeted: at most the few notices of a trigger the pages budget let
    through."""
    candidates = [
        i for (_, b), items in to_throttle.items() if b is Budget.NOTICES for i in items if edits_in_place(i.page)
    ]
    if not candidates:
        return
    undecided = [item.id for item in new if item.page.kind is PageKind.TRIGGER]
    posted = await slack_triggers_posted(conn, [item.page for item in candidates], undecided)
    for key in [k for k in to_throttle if k[1] is Budget.NOTICES]:
        budgeted = []
        for item in to_throttle[key]:
            if edits_in_place(item.page) and message_of(item.page) in posted:
                if item.due:
                    outcome.dispatch_now.append(item.id)
            else:
                budgeted.append(item)
        if budgeted:
            to_throttle[key] = budgeted
        else:
            del to_throttle[key]


async def _apply_throttle(
    conn: AsyncConnection,
    key: tuple[str, Budget],
    items: list[NewDelivery],
    now: datetime,
    policy: DeliveryPolicy,
    outcome: IntakeOutcome,
) -> None:
    channel = items[0].page.contact_method.type
    limit = policy.throttle_limit(channel)
    window = await lock_window(conn, *key, channel.value, now)
    if window.suppressed and window.expired(now, policy.throttle_window):
        digest_id = await flush_digest(conn, window, now, policy)
        if digest_id:
            outcome.dispatch_now.append(digest_id)
    for item in items:
        if window.admit(item.page, now, limit, policy.throttle_window):
            if item.due:
                outcome.dispatch_now.append(item.id)
            continue
        outcome.ended[(channel.value, DeliveryStatus.THROTTLED.value)] += 1
        error = f"flood protection: more than {limit} messages in {policy.throttle_window.total_seconds():.0f}s"
        record = AttemptRecord(DeliveryStatus.THROTTLED, error=f"{error}; collapsed into the next digest")
        outcome.results.append(await mark_final(conn, item.id, 0, record, now, claimed=False))
    await save_window(conn, window)
