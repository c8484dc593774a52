"""Acting on incidents through the router's HTTP API, as the person who answered a page.

Every way a person answers (link page, SMS reply, key press on a call, Slack button) ends here, so they all get
the same outcomes: done; nothing to do (already acknowledged or resolved); not found; refused (403: the person may
not act on this incident -- another team's -- with the router's reason); the router could not be reached or would
not take the request (nothing was changed: try again); or the request went out and no answer came back (a timeout,
a dropped connection, a 5xx: the change may or may not have been made, so the person is never told "nothing was
changed" then, nor "done").
The notifier authenticates with a machine token (``NOTIFIER_ROUTER_API_TOKEN``, scopes read+write); the person is
named in the ``by`` field, which the router records in the incident's decision, checking that person's own right.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from alertrouter_shared.logging import get_logger

log = get_logger(__name__)


class IncidentAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ESCALATE = "escalate"


class Result(StrEnum):
    DONE = "done"
    UNCHANGED = "unchanged"
    NOT_FOUND = "not_found"
    REFUSED = "refused"  # 403: the person may not (``detail`` says why)
    UNAVAILABLE = "unavailable"  # the request was not taken: nothing was changed
    UNCONFIRMED = "unconfirmed"  # sent, but no answer: it may or may not have been changed


@dataclass(frozen=True)
class ActionOutcome:
    result: Result
    status: str | None = None  # the incident's status after the call, when the router said
    detail: str = ""  # a refusal's reason, as the router gave it


# Failures before the request reached the router: it cannot have acted.
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)

OPEN = frozenset({"triggered", "acknowledged"})
PAST = {
    IncidentAction.ACKNOWLEDGE: "acknowledged",
    IncidentAction.RESOLVE: "resolved",
    IncidentAction.ESCALATE: "escalated",
}


class RouterClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}

    async def act(
        self, incident_id: str, action: IncidentAction, by: str, note: str, from_level: int | None = None
    ) -> ActionOutcome:
        """``from_level``: escalate only while the incident is still at that level, so a request retried after its
        answer was lost (the person pressed again) escalates once."""
        url = f"{self._base}/v1/incidents/{incident_id}/{action.value}"
        body: dict[str, Any] = {"by": by, "note": note}
        if from_level is not None:
            body["from_level"] = from_level
        try:
            response = await self._http.post(url, json=body, headers=self._headers)
        except NOT_SENT as exc:
            log.warning("router_unreachable", incident_id=incident_id, action=action.value, error=repr(exc))
            return ActionOutcome(Result.UNAVAILABLE)
        except httpx.HTTPError as exc:
            log.warning("router_did_not_answer", incident_id=incident_id, action=action.value, error=repr(exc))
            return ActionOutcome(Result.UNCONFIRMED)
        if response.status_code == 404 and _incident_missing(response):
            return ActionOutcome(Result.NOT_FOUND)
        if response.status_code == 409:
            return ActionOutcome(Result.UNCHANGED, _status(response))
        if response.status_code == 403:
            field = _field(response, "detail")
            detail = field if isinstance(field, str) else ""
            if detail.startswith(f"user {by} "):  # the person may not: theirs to know
                log.info("router_refused_person", incident_id=incident_id, action=action.value, by=by)
            else:  # the notifier's own token may not (no act_as, a viewer): an operator's to fix
                log.error("router_refused_notifier", incident_id=incident_id, action=action.value, detail=detail)
            return ActionOutcome(Result.REFUSED, detail=detail)
        if response.status_code >= 500:
            # a failure after the router's commit (or during it) is a 5xx too: not "nothing was changed"
            log.warning("router_failed", incident_id=incident_id, action=action.value, status=response.status_code)
            return ActionOutcome(Result.UNCONFIRMED)
        if not response.is_success:
            # 401 (the notifier's token), 404 of a route, 422: the router took nothing
            log.error("router_refused", incident_id=incident_id, action=action.value, status=response.status_code)
            return ActionOutcome(Result.UNAVAILABLE)
        changed = _field(response, "changed")
        return ActionOutcome(Result.UNCHANGED if changed is False else Result.DONE, _status(response))

    async def status(self, incident_id: str) -> str | None:
        """The incident's status, None when the router does not know it; raises httpx.HTTPError when unreachable."""
        response = await self._http.get(f"{self._base}/v1/incidents/{incident_id}", headers=self._headers)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        incident = _field(response, "incident")
        status = incident.get("status") if isinstance(incident, dict) else None
        if not isinstance(status, str):
            raise httpx.DecodingError(f"the router's answer for incident {incident_id} has no status")
        return status


def _field(response: httpx.Response, name: str) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


def _status(response: httpx.Response) -> str | None:
    status = _field(response, "status")
    return status if isinstance(status, str) else None


def _incident_missing(response: httpx.Response) -> bool:
    """A 404 about the incident, not a route this router does not have (an older router without /escalate)."""
    detail = _field(response, "detail")
    return isinstance(detail, str) and "incident" in detail.lower()
