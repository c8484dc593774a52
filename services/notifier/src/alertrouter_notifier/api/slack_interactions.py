"""Slack buttons: ``POST /v1/slack/interactions`` receives ``block_actions`` when someone clicks Acknowledge or
Resolve on a page, acts through the router as the alertrouter user that Slack account belongs to, and updates the
message in place (``chat.update``).

Requests are verified with the app's signing secret (``v0`` HMAC-SHA256 over ``v0:<timestamp>:<body>``) and must be
at most five minutes old; within them, the same request again changes nothing (it is claimed by its signature). The
message is recognised by its channel and ts (stored as the delivery's provider message id), so a click can only act
on the incident of a page we posted. The clicking Slack account must belong to a person: the paged person when the
page went to their own Slack member id, otherwise whoever has a Slack contact method with that member id. Anyone
else gets an ephemeral explanation and no effect, and so does a person the router refuses (another team's incident,
clicked in a shared channel).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from alertrouter_notifier.api.context import AppContext, callback_body, context
from alertrouter_notifier.channels.base import Links, SendPermanentError, SendTransientError
from alertrouter_notifier.channels.slack_api import message_ref
from alertrouter_notifier.db.answers import answer_key, claim
from alertrouter_notifier.db.sent_pages import SentPage, recipient_of, recorded
from alertrouter_notifier.links import console_link
from alertrouter_notifier.rendering.slack import ACTION_ACKNOWLEDGE, ACTION_RESOLVE, Handled, slack_message
from alertrouter_notifier.router_client import PAST, IncidentAction, Result
from alertrouter_shared.events import ContactMethodType, PageKind
from alertrouter_shared.logging import get_logger
from alertrouter_shared.web.bodies import BOUNDED_BODY_RESPONSES

log = get_logger(__name__)

INTERACTIONS_PATH = "/v1/slack/interactions"
TOLERANCE_SECONDS = 300
ACTIONS = {ACTION_ACKNOWLEDGE: IncidentAction.ACKNOWLEDGE, ACTION_RESOLVE: IncidentAction.RESOLVE}
STATUS_KIND = {"acknowledged": PageKind.ACKNOWLEDGED, "resolved": PageKind.RESOLVED}


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SlackUser(_Payload):
    id: str


class Container(_Payload):
    channel_id: str = ""
    message_ts: str = ""


class Action(_Payload):
    action_id: str
    value: str | None = None


class BlockActions(_Payload):
    type: str
    user: SlackUser
    container: Container = Container()
    actions: list[Action] = []
    response_url: str | None = None


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, presented: str, now: float) -> bool:
    if (
        not secret
        or not timestamp.isascii()
        or not timestamp.isdigit()
        or abs(now - int(timestamp)) > TOLERANCE_SECONDS
    ):
        return False
    return hmac.compare_digest(slack_signature(secret, timestamp, body).encode(), presented.encode("utf-8", "replace"))


# Declares Slack's request signature in the OpenAPI document; ``_verified_payload`` checks it.
SLACK_SIGNATURE = APIKeyHeader(
    name="X-Slack-Signature",
    scheme_name="slackSignature",
    description="v0= HMAC-SHA256 of v0:<X-Slack-Request-Timestamp>:<body> with the signing secret; 401 if not",
    auto_error=False,
)


def slack_router() -> APIRouter:
    router = APIRouter(tags=["slack"], dependencies=[Depends(SLACK_SIGNATURE)])

    @router.post(
        INTERACTIONS_PATH,
        response_class=Response,
        responses={
            200: {"description": "Handled (an empty body; answers reach Slack through response_url)"},
            **BOUNDED_BODY_RESPONSES,
        },
    )
    async def interaction(request: Request, ctx: Annotated[AppContext, Depends(context)]) -> Response:
        payload = await _verified_payload(request, ctx)
        chosen = next((ACTIONS[a.action_id] for a in payload.actions if a.action_id in ACTIONS), None)
        if payload.type != "block_actions" or chosen is None:
            return Response(status_code=200)  # e.g. the Runbook link button: nothing to do
        ref = message_ref(payload.container.channel_id, payload.container.message_ts)
        sent = await recorded(ctx.engine, ContactMethodType.SLACK, ref)
        async with ctx.engine.connect() as conn:
            person = await _person(conn, payload.user.id, payload.container.channel_id, sent) if sent else None
        if sent is None:
            await _tell(ctx, payload, "This message is not an alertrouter page; nothing was changed.")
        elif person is None:
            await _tell(ctx, payload, _unlinked(payload.user.id))
        elif await claim(ctx.engine, answer_key("slack", request.headers["X-Slack-Signature"]), ctx.clock.now()):
            await _act(ctx, payload, ref, sent, person, chosen)
        else:  # this very request again (its signature is good for five minutes): it acted once
            log.info("slack_click_repeated", incident_id=sent.page.incident_id)
        return Response(status_code=200)

    return router


async def _verified_payload(request: Request, ctx: AppContext) -> BlockActions:
    secret = ctx.settings.slack_signing_secret.get_secret_value()
    if not secret:
        raise HTTPException(404, "Slack interactivity is not configured (NOTIFIER_SLACK_SIGNING_SECRET)")
    body = await callback_body(request)
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not signature_valid(secret, timestamp, body, request.headers.get("X-Slack-Signature", ""), time.time()):
        raise HTTPException(401, "X-Slack-Signature does not match this request, or it is more than 5 minutes old")
    try:
        (raw,) = parse_qs(body.decode())["payload"]
        return BlockActions.model_validate_json(raw)
    except (KeyError, ValueError, ValidationError) as exc:
        raise HTTPException(400, "the body is not a Slack interaction payload") from exc


async def _person(conn: AsyncConnection, slack_user: str, channel: str, sent: SentPage) -> str | None:
    """The page's person when it went to their member id, or to their direct message (D…: one person in it, the
    click is theirs); else whoever was last paged at the clicking member id."""
    address = sent.page.contact_method.address.strip().upper()
    if address == slack_user.upper() or (address.startswith("D") and address == channel.upper()):
        return sent.page.user_id
    return await recipient_of(conn, ContactMethodType.SLACK, slack_user)


def _unlinked(slack_user: str) -> str:
    return (
        f"Your Slack account ({slack_user}) is not linked to an alertrouter user, so nothing was changed. "
        "Add a Slack contact method with your member id to your user in the ownership configuration."
    )


async def _act(
    ctx: AppContext, payload: BlockActions, ref: str, sent: SentPage, person: str, action: IncidentAction
) -> None:
    page = sent.page
    outcome = await ctx.router.act(page.incident_id, action, person, f"{PAST[action]} in Slack")
    log.info("slack_button", incident_id=page.incident_id, action=action.value, result=outcome.result.value)
    if outcome.result is Result.DONE:
        await _update(ctx, ref, sent, outcome.status or PAST[action], person)
    elif outcome.result is Result.UNCHANGED:
        # the message is left as it is: it was (or is being) updated by the notice of whoever did change it, and
        # showing this click as the change named the wrong person
        await _tell(ctx, payload, f"The incident is already {outcome.status or 'closed'}; nothing was changed.")
    elif outcome.result is Result.NOT_FOUND:
        await _tell(ctx, payload, "alertrouter no longer knows this incident; nothing was changed.")
    elif outcome.result is Result.REFUSED:
        why = f" ({outcome.detail})" if outcome.detail else ""
        await _tell(ctx, payload, f"You may not {action.value} this incident{why}; nothing was changed.")
    elif outcome.result is Result.UNCONFIRMED:
        await _tell(
            ctx,
            payload,
            f"alertrouter did not confirm: the incident may or may not be {PAST[action]}. Click again to find out "
            "(an incident already changed says so).",
        )
    else:
        await _tell(ctx, payload, "alertrouter could not be reached; nothing was changed. Please try again.")


async def _update(ctx: AppContext, ref: str, sent: SentPage, status: str, person: str) -> None:
    """The message shows who changed the incident and keeps only the buttons that still make sense. A status the
    message has no form for (still triggered) leaves it as it is."""
    kind = STATUS_KIND.get(status)
    if kind is None:
        return
    page = sent.page
    by = page.user_name if person == page.user_id and page.user_name else person
    links = Links(incident=console_link(ctx.settings.console_url, page.incident_id))
    handled = Handled(kind, by, "Slack")
    message = slack_message(page, links, interactive=True, handled=handled)
    try:
        await ctx.slack.update(ref, message)
    except (SendTransientError, SendPermanentError) as exc:
        log.warning("slack_message_not_updated", incident_id=page.incident_id, error=str(exc))


async def _tell(ctx: AppContext, payload: BlockActions, text: str) -> None:
    """An ephemeral reply only the clicking person sees, through the interaction's response_url."""
    if not payload.response_url:
        return
    body = {"response_type": "ephemeral", "replace_original": False, "text": text}
    try:
        await ctx.http.post(payload.response_url, json=body)
    except httpx.HTTPError as exc:
        log.warning("slack_response_url_failed", error=repr(exc))
