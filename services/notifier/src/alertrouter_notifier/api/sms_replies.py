"""Two-way SMS: a reply to a page acknowledges (``1``/``ack``) or resolves (``4``/``resolve``) it, as that person.

Twilio posts each incoming message to ``POST /v1/twilio/sms/inbound`` (signature verified). The sender is known
only by their number: the incidents they may answer are those paged to that number (SMS or voice) within
``NOTIFIER_SMS_REPLY_WINDOW_SECONDS``. A reply names the incident by the short code every page carries
(``#ab12cd34``); a bare ``1`` is enough only when it cannot be meant for another incident (``bare_reply_target``),
otherwise it gets the list of codes back.
Unknown senders, unknown or stale codes and unreadable replies get a clear answer and change nothing. The answer
is TwiML ``<Message>``, so Twilio sends it back from the number that was texted. A message is acted on once: the
same MessageSid again (a retry, or a signed request someone captured and replays -- Twilio's signature covers no
time) gets an empty answer and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from xml.sax.saxutils import escape

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from alertrouter_notifier.api.context import AppContext, context
from alertrouter_notifier.api.twilio_signature import TWIML_REPLY, twilio_api, twiml, verified_form
from alertrouter_notifier.db.answers import answer_key, claim, release
from alertrouter_notifier.db.sent_pages import SentPage, triggers_to
from alertrouter_notifier.rendering.text import incident_ref, truncate
from alertrouter_notifier.router_client import OPEN, PAST, IncidentAction, Result
from alertrouter_shared.db_errors import is_transient, retry_transient
from alertrouter_shared.events import ContactMethodType
from alertrouter_shared.logging import get_logger
from alertrouter_shared.redaction import redact

log = get_logger(__name__)

INBOUND_PATH = "/v1/twilio/sms/inbound"
REPLY_ATTEMPTS = 4  # 0.2 + 0.4 + 0.6 s between them: well within the 15 s Twilio waits for an answer
UNAVAILABLE = "alertrouter could not process your reply. Nothing was changed; please try again."
VERBS = {
    "1": IncidentAction.ACKNOWLEDGE,
    "ack": IncidentAction.ACKNOWLEDGE,
    "acknowledge": IncidentAction.ACKNOWLEDGE,
    "4": IncidentAction.RESOLVE,
    "resolve": IncidentAction.RESOLVE,
}
ANSWERABLE = {IncidentAction.ACKNOWLEDGE: frozenset({"triggered"}), IncidentAction.RESOLVE: OPEN}
HELP = "Reply 1 to acknowledge or 4 to resolve, with the incident code when you have several (e.g. 1 ab12cd34)."
MAX_LISTED = 4
MAX_LOOKUPS = 20


@dataclass(frozen=True)
class ParsedReply:
    action: IncidentAction
    code: str | None


@dataclass(frozen=True)
class Recent:
    """One of the sender's recent incidents (its newest page to them) and its status now (None: unknown)."""

    item: SentPage
    status: str | None


@dataclass(frozen=True)
class BareTarget:
    """What a reply without a code does: act on ``act_on``, or list ``answerable`` and the ``rivals`` it may mean."""

    act_on: SentPage | None
    answerable: list[SentPage]
    rivals: list[Recent]


def parse_reply(body: str) -> ParsedReply | None:
    """``1``, ``ack``, ``4 ab12cd34``, ``resolve #ab12cd34``; None for anything else."""
    words = body.strip().lower().replace("#", " ").split()
    if not words or words[0] not in VERBS or len(words) > 2:
        return None
    return ParsedReply(VERBS[words[0]], words[1] if len(words) == 2 else None)


def sms_router() -> APIRouter:
    router = twilio_api()

    @router.post(INBOUND_PATH, response_class=Response, responses=TWIML_REPLY)
    async def inbound(request: Request, ctx: Annotated[AppContext, Depends(context)]) -> Response:
        """Twilio does not retry an inbound message answered with an error: a database hiccup is retried here, and
        one that lasts is told to the person (who may otherwise think their "1" acknowledged)."""
        fields = await verified_form(request, ctx)
        try:
            answer = await retry_transient(lambda: _handled(ctx, fields), REPLY_ATTEMPTS, "sms_reply")
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.error("sms_reply_not_processed", sender=redact(fields.get("From", "")), error=type(exc).__name__)
            answer = UNAVAILABLE
        return twiml(f"<Message>{escape(answer)}</Message>" if answer else "")

    return router


async def _handled(ctx: AppContext, fields: dict[str, str]) -> str:
    """The answer to the message ("" for one answered before)."""
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    key = answer_key("sms", sid) if sid else None
    if key is not None and not await claim(ctx.engine, key, ctx.clock.now()):
        # the same message again (a retry, or a captured request replayed): acted on once, answered once
        log.info("sms_reply_repeated", sender=redact(fields.get("From", "")))
        return ""
    try:
        answer = await _answer(ctx, fields.get("From", ""), fields.get("Body", ""))
    except Exception:
        if key is not None:
            await release(ctx.engine, key)  # not answered: the message may be tried again
        raise
    log.info("sms_reply_answered", sender=redact(fields.get("From", "")), answer=redact(answer))
    return answer


async def _answer(ctx: AppContext, sender: str, body: str) -> str:
    parsed = parse_reply(body)
    if parsed is None:
        return f"Sorry, alertrouter did not understand that. {HELP}"
    since = ctx.clock.now() - timedelta(seconds=ctx.settings.sms_reply_window_seconds)
    async with ctx.engine.connect() as conn:
        sent = await triggers_to(conn, sender.strip(), [ContactMethodType.SMS, ContactMethodType.VOICE], since)
    latest = _latest_per_incident(sent)
    if not latest:
        return "This number has no recent alertrouter pages. Nothing was changed."
    if parsed.code is not None:
        chosen = [item for item in latest if incident_ref(item.page.incident_id).lower() == parsed.code]
        if not chosen:
            return f"Code {parsed.code} matches none of your recent incidents. Nothing was changed. {HELP}"
        if len(chosen) > 1:  # two incidents whose ids start alike: acting on either could be the wrong one
            return (
                f"Code {parsed.code} matches {len(chosen)} of your recent incidents. Nothing was changed: use the "
                "link in the message or the console."
            )
        return await _act(ctx, chosen[0], parsed.action)
    try:
        recent = await _with_statuses(ctx, latest[:MAX_LOOKUPS])
    except httpx.HTTPError:
        return "alertrouter could not be reached. Nothing was changed; please try again."
    ambiguity = timedelta(seconds=ctx.settings.sms_bare_reply_ambiguity_seconds)
    target = bare_reply_target(recent, parsed.action, ambiguity)
    if target.act_on is not None:
        return await _act(ctx, target.act_on, parsed.action)
    if not target.answerable:
        return f"You have no incident to {parsed.action.value}. Nothing was changed."
    return _choose(target.answerable, parsed.action, target.rivals)


def bare_reply_target(recent: Sequence[Recent], action: IncidentAction, ambiguity: timedelta) -> BareTarget:
    """The incident a reply without a code answers, only when no other could be the one meant.

    The person answers the page they read, and at 3 a.m. nobody reads the answer naming what was done: with A
    paged, A resolved by itself and B paged, a "1" meant for A acknowledged B -- the only open one -- and B's
    escalation stopped. So any other incident paged to them since ``ambiguity`` before the answerable one's newest
    page (or after it), whatever its state, makes a bare reply act on nothing; one paged long before (last night's,
    closed) does not. ``recent`` is newest first.
    """
    answerable = [r.item for r in recent if r.status in ANSWERABLE[action]]
    if len(answerable) != 1:
        return BareTarget(None, answerable, [])
    (only,) = answerable
    rivals = [r for r in recent if r.item is not only and r.item.sent_at >= only.sent_at - ambiguity]
    return BareTarget(None if rivals else only, answerable, rivals)


def _latest_per_incident(sent: list[SentPage]) -> list[SentPage]:
    """One page per incident (the newest: ``sent`` is newest first), the most recent incidents first. A code may
    name any of them; a bare reply asks the router about the newest ``MAX_LOOKUPS`` only."""
    seen: dict[str, SentPage] = {}
    for item in sent:
        seen.setdefault(item.page.incident_id, item)
    return list(seen.values())


async def _with_statuses(ctx: AppContext, latest: list[SentPage]) -> list[Recent]:
    statuses = await asyncio.gather(*(ctx.router.status(item.page.incident_id) for item in latest))
    return [Recent(item, status) for item, status in zip(latest, statuses, strict=True)]


def _label(item: SentPage) -> str:
    page = item.page
    service = truncate(page.service_name or page.service_id, 24, ellipsis="...")
    return f"#{incident_ref(page.incident_id)} {service}"


def _choose(answerable: list[SentPage], action: IncidentAction, rivals: Sequence[Recent]) -> str:
    """The codes to reply with; first, the incidents the bare reply may have been meant for but cannot act on."""
    listed = ", ".join(_label(item) for item in answerable[:MAX_LISTED])
    more = f" and {len(answerable) - MAX_LISTED} more" if len(answerable) > MAX_LISTED else ""
    verb = _verb(action)
    code = incident_ref(answerable[0].page.incident_id)
    closed = "".join(f"{_closed(rival)} " for rival in rivals[:MAX_LISTED])
    unchanged = "Nothing was changed. " if rivals else ""
    incidents = "incident" if len(answerable) == 1 else "incidents"
    return (
        f"{closed}{unchanged}You have {len(answerable)} open {incidents}: {listed}{more}. "
        f"Reply {verb} and the code, e.g. {verb} {code}"
    )


def _closed(rival: Recent) -> str:
    if rival.status is None:
        return f"{_label(rival.item)} is no longer known to alertrouter."
    return f"{_label(rival.item)} is already {rival.status}."


async def _act(ctx: AppContext, item: SentPage, action: IncidentAction) -> str:
    page = item.page
    outcome = await ctx.router.act(page.incident_id, action, page.user_id, f"{PAST[action]} by SMS reply")
    log.info("sms_reply_action", incident_id=page.incident_id, action=action.value, result=outcome.result.value)
    if outcome.result is Result.DONE:
        summary = truncate(page.summary or "", 60, ellipsis="...")
        return f"{PAST[action].capitalize()}: {_label(item)}: {summary}"
    if outcome.result is Result.UNCHANGED:
        return f"{_label(item)} is already {outcome.status or 'closed'}. Nothing was changed."
    if outcome.result is Result.NOT_FOUND:
        return f"{_label(item)} is no longer known to alertrouter. Nothing was changed."
    if outcome.result is Result.REFUSED:
        why = f" ({truncate(outcome.detail, 200, ellipsis='...')})" if outcome.detail else ""
        return f"You may not {action.value} {_label(item)}{why}. Nothing was changed."
    if outcome.result is Result.UNCONFIRMED:
        return (
            f"alertrouter did not confirm: {_label(item)} may or may not be {PAST[action]}. "
            f"Reply again to find out (e.g. {_verb(action)} {incident_ref(page.incident_id)})."
        )
    return "alertrouter could not be reached. Nothing was changed; please try again."


def _verb(action: IncidentAction) -> str:
    return "1" if action is IncidentAction.ACKNOWLEDGE else "4"
