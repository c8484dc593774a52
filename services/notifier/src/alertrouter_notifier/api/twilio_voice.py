"""Key presses during a page call (Twilio's Gather action): 1 acknowledges, 2 escalates now, as the paged person.

The call is recognised by the delivery its action URL names (``?delivery=<id>``), else by its CallSid (the
provider message id of the voice delivery: calls placed before the URL named it), never by anything the caller
could choose, and the request must carry a valid X-Twilio-Signature (which covers the URL's query). The answer is
TwiML that tells the person what happened; when the router cannot be reached, nothing is assumed and the menu is
offered again. A call is answered once: after an answer that hangs up, the same call's request again (Twilio's
signature covers no time, so a captured one could be replayed: a "2" escalating once more each time) changes
nothing.

By CallSid alone, a call Twilio created but answered after our timeout was unknown: the call was placed again and
only the second CallSid recorded, so a key pressed on the first said "not known" and changed nothing, while the
person believed the incident acknowledged. By its delivery it acts as the recorded call would, answered once by
its own CallSid.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from alertrouter_notifier.api.context import AppContext, context
from alertrouter_notifier.api.twilio_signature import TWIML_REPLY, CallDelivery, twilio_api, twiml, verified_form
from alertrouter_notifier.db.answers import answer_key, claim, release
from alertrouter_notifier.db.sent_pages import SentPage, by_delivery, recorded
from alertrouter_notifier.links import TWILIO_GATHER_PATH, for_delivery, public_url
from alertrouter_notifier.rendering.voice import KEY_ACKNOWLEDGE, KEY_ESCALATE, PROMPT, gather, say
from alertrouter_notifier.router_client import PAST, IncidentAction, Result
from alertrouter_shared.events import ContactMethodType
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

ACTIONS = {KEY_ACKNOWLEDGE: IncidentAction.ACKNOWLEDGE, KEY_ESCALATE: IncidentAction.ESCALATE}


def voice_router() -> APIRouter:
    router = twilio_api()

    @router.post(TWILIO_GATHER_PATH, response_class=Response, responses=TWIML_REPLY)
    async def key_pressed(
        request: Request,
        ctx: Annotated[AppContext, Depends(context)],
        delivery: CallDelivery = None,
    ) -> Response:
        fields = await verified_form(request, ctx)
        sent = await _called_page(ctx, fields.get("CallSid", ""), delivery)
        if sent is None:
            return twiml(say("This call is not known to alertrouter. Goodbye.") + "<Hangup/>")
        action = ACTIONS.get(fields.get("Digits", ""))
        if action is None:
            return twiml(_again(ctx, sent, "Sorry, that is not an option."))
        key = answer_key("voice", fields["CallSid"])
        if not await claim(ctx.engine, key, ctx.clock.now()):
            # the call's answer was taken (the call hung up after it): this is the same request again, replayed
            log.info("call_key_repeated", incident_id=sent.page.incident_id)
            return twiml(say("This call was already answered. Goodbye.") + "<Hangup/>")
        try:
            answer, final = await _act(ctx, sent, action)
        except Exception:
            await release(ctx.engine, key)
            raise
        if not final:
            await release(ctx.engine, key)  # the menu is offered again: the person may press once more
        return twiml(answer)

    return router


async def _called_page(ctx: AppContext, call_sid: str, delivery_id: str | None) -> SentPage | None:
    """The page a call was placed for: by the delivery its signed URL names (no wait: the row exists before the
    call is placed), else by its CallSid (calls placed before the URL named it)."""
    if not call_sid:
        return None  # Twilio always sends it; the answer-once claim is keyed by it
    if delivery_id:
        sent = await by_delivery(ctx.engine, ContactMethodType.VOICE, delivery_id)
        if sent is not None:
            if sent.provider_message_id != call_sid:  # placed again after a late answer: another call was recorded
                log.info("call_not_recorded", delivery_id=delivery_id, sid=call_sid, incident_id=sent.page.incident_id)
            return sent
    return await recorded(ctx.engine, ContactMethodType.VOICE, call_sid)


def _again(ctx: AppContext, sent: SentPage, text: str) -> str:
    """The menu again; its key press is posted to the URL naming the call's delivery, as the first was."""
    action_url = for_delivery(public_url(ctx.settings.public_url, TWILIO_GATHER_PATH), sent.delivery_id)
    return gather(f"{text} {PROMPT}", action_url, ctx.settings.voice_gather_seconds)


async def _act(ctx: AppContext, sent: SentPage, action: IncidentAction) -> tuple[str, bool]:
    """The TwiML answer, and whether it is final (the call hangs up) rather than the menu offered again."""
    page = sent.page
    # escalate from the level this call is for: "press 2" again after an answer the router did not confirm (it
    # may have escalated) escalated once more, paging a level nobody asked for
    level = page.escalation_level if action is IncidentAction.ESCALATE else None
    outcome = await ctx.router.act(page.incident_id, action, page.user_id, f"{PAST[action]} by phone", level)
    log.info("call_key_pressed", incident_id=page.incident_id, action=action.value, result=outcome.result.value)
    if outcome.result is Result.DONE:
        done = "escalated to the next level" if action is IncidentAction.ESCALATE else PAST[action]
        return say(f"The incident is {done}. Goodbye.") + "<Hangup/>", True
    if outcome.result is Result.UNCHANGED and action is IncidentAction.ESCALATE and outcome.status == "triggered":
        return say("The incident has already gone past your level, or no level follows. Goodbye.") + "<Hangup/>", True
    if outcome.result is Result.UNCHANGED:
        return say(f"The incident is already {outcome.status or 'closed'}. Goodbye.") + "<Hangup/>", True
    if outcome.result is Result.NOT_FOUND:
        return say("alertrouter no longer knows this incident. Goodbye.") + "<Hangup/>", True
    if outcome.result is Result.REFUSED:
        return say(f"You may not {action.value} this incident. Nothing was changed. Goodbye.") + "<Hangup/>", True
    if outcome.result is Result.UNCONFIRMED:
        return _again(ctx, sent, f"alertrouter did not confirm. The incident may or may not be {PAST[action]}."), False
    return _again(ctx, sent, "alertrouter could not be reached, nothing was changed."), False
