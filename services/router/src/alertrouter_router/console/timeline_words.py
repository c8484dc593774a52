"""An incident's timeline (as ``GET /v1/incidents/{id}`` returns it) in plain words, one line per entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alertrouter_router.timefmt import local_time, local_times_in

OUTCOME_WORDS = {
    "paged": "Paged",
    "duplicate": "Repeat of a firing alert",
    "grouped": "Another alert",  # its reason says "grouped into incident …": the title said it again
    "resolved": "Resolved",
    "acknowledged": "Acknowledged",
    "suppressed": "Held back",
    "no_route": "No route",
    "nobody_on_call": "Nobody reachable",
    "escalation_ended": "Escalation ended",
    "noted": "Note",
    "not_stored": "Not stored",  # the database refused the alert: dead-lettered, nobody paged
}
STATUS_UPDATES = ("acknowledged", "resolved")  # page ids <incident>:<kind>:<round>.<level>.<step round>:<user>:<method>
ESCALATED = "escalated"  # page ids <incident>:escalated:<round>:<level>:<user>:<method> (paging.escalation_updates)


@dataclass(frozen=True)
class Line:
    at: str
    kind: str  # decision, page, delivery, change, … (a CSS class too)
    title: str
    text: str
    decision_id: str | None = None
    failed: bool = False


def _page(entry: dict[str, Any], zone: str, rounds: dict[str, int]) -> Line:
    """Page ids are ``<incident>:<round>:<level>:<user>:<contact method>``, or ``<incident>:<action>:…`` for a
    person's reassignment or added responder (``paging.page_id``, ``responder_rules``); status updates name their
    kind (``paging.update_pages``, ``paging.escalation_updates``: one part more)."""
    parts = str(entry["page_id"]).split(":")
    title = "Page"
    if len(parts) == 5 and parts[1].isdigit():
        # the round as its decision says it ("paged level 1 (round 1)"): the id numbers rounds on across cycles
        shown = rounds.get(str(entry.get("decision_id")), int(parts[1]) + 1)
        what = f"to {parts[3]} via {parts[4]} (level {parts[2]}, round {shown})"
    elif len(parts) == 5 and parts[1] in STATUS_UPDATES:
        title, what = "Status update", f"to {parts[3]} via {parts[4]}: {parts[1]}"
    elif len(parts) == 6 and parts[1] == ESCALATED:
        title, what = "Status update", f"to {parts[4]} via {parts[5]}: escalated to level {parts[3]}"
    elif len(parts) == 5:
        what = f"to {parts[3]} via {parts[4]} ({parts[1].replace('_', ' ')})"
    else:
        what = str(entry["page_id"])
    published = entry.get("published_at")
    sent = f"handed to the notifier {local_time(published, zone, False)}" if published else "not handed over yet"
    return Line(entry["at"], "page", title, f"{what}, due {local_time(entry.get('send_at'), zone, False)}; {sent}.")


def _delivery(entry: dict[str, Any]) -> Line:
    status = str(entry.get("status", ""))
    who = entry.get("user_id") or "someone"
    if status == "cancelled":  # the notifier ended it unsent: its incident was acknowledged or resolved first
        why = str(entry.get("error") or "the incident was acknowledged or resolved first").removeprefix("not sent: ")
        to = f"{entry.get('channel')} to {who} ({entry.get('destination_masked')})"
        return Line(entry["at"], "delivery", "Delivery", f"{to}: cancelled, not sent: {why}.")
    text = (
        f"{entry.get('channel')} to {who} ({entry.get('destination_masked')}): {status}"
        f" (attempt {entry.get('attempt', 1)}{', ' + entry['provider'] if entry.get('provider') else ''})"
    )
    if entry.get("error"):
        text += f": {entry['error']}"
    if entry.get("failed_for_good"):
        text += " — will not reach them for this page"
    failed = status in ("failed", "undelivered", "expired")
    return Line(entry["at"], "delivery", "Delivery", text + ".", failed=failed)


def _when_changed(minutes: int) -> str:
    """``minutes_from_opening`` is rounded, so 0 is anything within half a minute either side: "0 min before" was
    said of a change received seconds after the incident opened."""
    if minutes == 0:
        return "within a minute of the incident opening"
    return f"{abs(minutes)} min {'before' if minutes < 0 else 'after'} the incident opened"


def _change(entry: dict[str, Any]) -> Line:
    when = _when_changed(int(entry.get("minutes_from_opening") or 0))
    source = f" from {entry['source']}" if entry.get("source") else ""
    return Line(entry["at"], "change", "Change", f"{entry.get('summary')}{source} ({when}).")


def line_for(entry: dict[str, Any], zone: str, rounds: dict[str, int] | None = None) -> Line:
    kind = entry.get("kind", "")
    if kind == "decision":
        outcome = str(entry.get("outcome", ""))
        title = OUTCOME_WORDS.get(outcome, outcome)
        reason = local_times_in(str(entry.get("reason")), zone)
        return Line(entry["at"], "decision", title, f"{reason}.", decision_id=entry.get("decision_id"))
    if kind == "page":
        return _page(entry, zone, rounds or {})
    if kind == "delivery":
        return _delivery(entry)
    if kind == "change":
        return _change(entry)
    rest = ", ".join(f"{k} {v}" for k, v in entry.items() if k not in ("at", "kind"))
    return Line(entry["at"], kind, kind.replace("_", " ").capitalize(), rest)


def in_words(timeline: list[dict[str, Any]], zone: str) -> list[Line]:
    rounds = {
        str(e["decision_id"]): int(e["round"])
        for e in timeline
        if e.get("kind") == "decision" and e.get("decision_id") and e.get("round") is not None
    }
    return [line_for(entry, zone, rounds) for entry in timeline]
