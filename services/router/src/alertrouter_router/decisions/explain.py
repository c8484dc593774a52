"""A decision as a short paragraph a tired SRE can read at 3 a.m."""

from __future__ import annotations

from typing import Any

from alertrouter_router.timefmt import utc_time


def how_selected(via: dict[str, Any]) -> str:
    """How a person was selected (the ``selected_by`` of an explained target), in words; the console shows it too."""
    if via["kind"] == "schedule":
        source = f"override {via['override']}" if via.get("override") else f"layer {via.get('layer')}"
        return f"on call in schedule {via['id']} ({source})"
    if via["kind"] == "team":
        return f"a member of team {via['id']}"
    return "named directly in the policy"


def _who(targets: list[dict[str, Any]]) -> str:
    parts = []
    for target in targets:
        how = how_selected(target["selected_by"])
        notified = (f"{n['type']} at {utc_time(n['send_at'])}" for n in target["notifications"])
        methods = ", ".join(notified) or "no contact method"
        parts.append(f"{target['name'] or target['user']} ({target['user']}), {how}, notified by {methods}")
    return "; ".join(parts)


def explain_text(row: dict[str, Any]) -> str:
    x = row["explanation"]
    event = x.get("event", {})
    route = x.get("route", {})
    lines = []
    if row["kind"] == "event":
        lines.append(
            f"Event {event.get('event_id')} ({event.get('action')} from {event.get('source')} integration "
            f"{event.get('integration')}, dedup key {row['dedup_key']}) arrived at "
            f"{utc_time(row['created_at'])} with summary {event.get('summary')!r}."
        )
        if route.get("service"):
            lines.append(
                f"It was routed to service {route['service']} (team {route['team']}, policy {route['policy']}) "
                f"because {route.get('reason')}."
            )
        else:
            lines.append(f"No service matched: {route.get('reason')}.")
    elif row["kind"] == "recheck":
        alert = x.get("alert", {})
        lines.append(
            f"Alert {row['dedup_key']} ({alert.get('summary')!r}), firing since {utc_time(alert.get('firing_since'))} "
            f"and held back by {alert.get('suppressed_by')}, was looked at again at {utc_time(row['created_at'])}."
        )
    elif row["kind"] == "manual":
        lines.append(f"A person acted on incident {row['incident_id']} at {utc_time(row['created_at'])}.")
    elif x.get("drill_ended"):
        lines.append(
            f"The time limit of drill incident {row['incident_id']} came at {utc_time(x['drill_ended']['ends_at'])}."
        )
    elif x.get("not_reached"):
        lines.append(
            f"Every page of the current level of incident {row['incident_id']} had failed for good at "
            f"{utc_time(row['created_at'])}."
        )
    elif x.get("retrigger"):
        lines.append(
            f"The snooze or acknowledgement timeout of incident {row['incident_id']} ran out at "
            f"{utc_time(row['created_at'])}."
        )
    else:
        step = x.get("step", {})
        lines.append(
            f"Escalation step round {step.get('round')} level {step.get('level')} of incident {row['incident_id']} "
            f"was due at {utc_time(step.get('due_at'))}."
        )
    if x.get("clamped"):
        clamped = x["clamped"]
        lines.append(
            f"Its time {utc_time(clamped['occurred_at'])} was {clamped['why']}: {utc_time(clamped['to'])} was used."
        )
    if x.get("fired_again"):
        lines.append(f"Its episode had been resolved: {x['fired_again']}.")
    lines.append(f"Outcome: {row['outcome']} — {row['reason']}.")
    for skipped in x.get("skipped_levels", []):
        lines.append(f"Level {skipped['level']} (round {skipped['round']}) was skipped: nobody reachable.")
    if x.get("targets"):
        lines.append(f"Paged: {_who(x['targets'])}.")
    if x.get("next_escalation"):
        nxt = x["next_escalation"]
        then = "is tried again" if row["outcome"] == "nobody_on_call" else "is paged"
        lines.append(
            f"Unless acknowledged, level {nxt['level']} (round {nxt['round']}) {then} at {utc_time(nxt['at'])}."
        )
    lines.append(f"Configuration version {row['config_version']}; decision {row['id']}.")
    return " ".join(lines) + "\n"
