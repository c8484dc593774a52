"""A decision as a short paragraph a tired SRE can read at 3 a.m."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alertrouter_router.timefmt import instants_in, utc_time

# How an instant of the paragraph is written: ``utc_time`` for the API and the CLI, the person's zone in the console.
Show = Callable[[object], str]

# A person's action that chose whom to page (``responder_rules``): the policy did not name them.
_CHOSEN = {
    "reassign": ("{by} reassigned the incident to them", "the schedule {by} reassigned the incident to"),
    "add_responder": ("{by} added them as a responder", "the schedule {by} added as a responder"),
}


def chosen_by(explanation: dict[str, Any]) -> tuple[str, str] | None:
    """For a reassignment or an added responder, how to say that a person chose the target (a user, a schedule)."""
    said = _CHOSEN.get(str(explanation.get("action")))
    if said is None:
        return None
    by = explanation.get("by") or "someone"
    return said[0].format(by=by), said[1].format(by=by)


def how_selected(via: dict[str, Any], chosen: tuple[str, str] | None = None) -> str:
    """How a person was selected (the ``selected_by`` of an explained target), in words; the console shows it too.
    ``chosen`` (``chosen_by``): a person's reassignment or added responder chose the target, not the policy."""
    if via["kind"] == "schedule":
        source = f"override {via['override']}" if via.get("override") else f"layer {via.get('layer')}"
        on_call = f"on call in schedule {via['id']} ({source})"
        return f"{on_call}, {chosen[1]}" if chosen else on_call
    if via["kind"] == "team":
        return f"a member of team {via['id']}"
    return chosen[0] if chosen else "named directly in the policy"


def _who(targets: list[dict[str, Any]], chosen: tuple[str, str] | None, show: Show) -> list[str]:
    """ "Paged: …" for those with a notification; a target without one was not paged, and is named apart."""
    paged, unreachable = [], []
    for target in targets:
        who = f"{target['name'] or target['user']} ({target['user']}), {how_selected(target['selected_by'], chosen)}"
        notified = [f"{n['type']} at {show(n['send_at'])}" for n in target["notifications"]]
        if notified:
            paged.append(f"{who}, notified by {', '.join(notified)}")
        else:
            unreachable.append(who)
    lines = [f"Paged: {'; '.join(paged)}."] if paged else []
    if unreachable:
        lines.append(f"Not paged, no contact method with a notification rule: {'; '.join(unreachable)}.")
    return lines


def _routed(route: dict[str, Any], said: str) -> str:
    if route.get("service"):
        return (
            f"{said} to service {route['service']} (team {route['team']}, policy {route['policy']}) "
            f"because {route.get('reason')}."
        )
    return f"No service matched: {route.get('reason')}."


def explain_text(row: dict[str, Any], show: Show = utc_time) -> str:
    """The paragraph, every instant in it (those of the reason too) written by ``show``."""
    x = row["explanation"]
    event = x.get("event", {})
    route = x.get("route", {})
    lines = []
    if row["kind"] == "event":
        # Received is when ingest took it; a decision read from a backlog (a router down, lagging) is made later.
        arrived, decided = show(event.get("received_at") or row["created_at"]), show(row["created_at"])
        later = "" if arrived == decided else f" and was decided at {decided}"
        lines.append(
            f"Event {event.get('event_id')} ({event.get('action')} from {event.get('source')} integration "
            f"{event.get('integration')}, dedup key {row['dedup_key']}) arrived at {arrived}{later} "
            f"with summary {event.get('summary')!r}."
        )
        # an event the database refused (not_stored) was routed only to say whose it was: nobody was paged
        lines.append(_routed(route, "It would have been routed" if row["outcome"] == "not_stored" else "It was routed"))
    elif row["kind"] == "recheck":
        alert = x.get("alert", {})
        lines.append(
            f"Alert {row['dedup_key']} ({alert.get('summary')!r}), firing since {show(alert.get('firing_since'))} "
            f"and held back by {alert.get('suppressed_by')}, was looked at again at {show(row['created_at'])}."
        )
        if route:  # routed again under the configuration in force (a reload may have routed it, or moved it)
            lines.append(_routed(route, "It is now routed"))
    elif row["kind"] == "manual":
        lines.append(f"A person acted on incident {row['incident_id']} at {show(row['created_at'])}.")
    elif x.get("drill_ended"):
        lines.append(
            f"The time limit of drill incident {row['incident_id']} came at {show(x['drill_ended']['ends_at'])}."
        )
    elif x.get("not_reached"):
        lines.append(
            f"Every page of the current level of incident {row['incident_id']} had failed for good at "
            f"{show(row['created_at'])}."
        )
    elif x.get("retrigger"):
        lines.append(
            f"The snooze or acknowledgement timeout of incident {row['incident_id']} ran out at "
            f"{show(row['created_at'])}."
        )
    else:
        step = x.get("step", {})
        lines.append(
            f"Escalation step round {step.get('round')} level {step.get('level')} of incident {row['incident_id']} "
            f"was due at {show(step.get('due_at'))}."
        )
    if x.get("clamped"):
        clamped = x["clamped"]
        lines.append(f"Its time {show(clamped['occurred_at'])} was {clamped['why']}: {show(clamped['to'])} was used.")
    if x.get("fired_again"):
        lines.append(f"Its episode had been resolved: {x['fired_again']}.")
    lines.append(f"Outcome: {row['outcome']} — {instants_in(str(row['reason']), show)}.")
    for skipped in x.get("skipped_levels", []):
        lines.append(f"Level {skipped['level']} (round {skipped['round']}) was skipped: nobody reachable.")
    lines.extend(_who(x.get("targets", []), chosen_by(x), show))
    if x.get("next_escalation"):
        nxt = x["next_escalation"]
        lines.append(
            f"Unless acknowledged, level {nxt['level']} (round {nxt['round']}) {next_step(str(row['outcome']))} at "
            f"{show(nxt['at'])}."
        )
    lines.append(f"Configuration version {row['config_version']}; decision {row['id']}.")
    return " ".join(lines) + "\n"


def next_step(outcome: str) -> str:
    """What ``next_escalation`` will do: a level that reached nobody is tried again, else the next level is paged."""
    return "is tried again" if outcome == "nobody_on_call" else "is paged"
