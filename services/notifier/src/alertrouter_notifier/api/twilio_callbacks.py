"""Twilio status callbacks: signature-verified updates of an SMS's or a call's final status.

SMS: delivered / undelivered / failed. Calls: completed (answered) / busy / no-answer / failed / canceled, the
last four meaning the person was not reached. Callbacks arrive out of order and more than once, so only a
``sent`` delivery moves, and only forward.

A call's status callback URL names its delivery (``?delivery=<id>``, signed). A call Twilio created but answered
after our timeout was placed again, and the delivery's outcome is the recorded call's: the status of the earlier
call (say, no-answer, while the person answers the later one) is logged and changes nothing. So is any CallSid
never recorded (after the usual grace for an outcome not yet committed): the update finds no delivery.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from alertrouter_notifier.api.context import AppContext, context
from alertrouter_notifier.api.twilio_signature import CallDelivery, twilio_api, verified_form
from alertrouter_notifier.db.ledger import AttemptRecord, mark_final
from alertrouter_notifier.db.sent_pages import by_delivery, recorded
from alertrouter_notifier.db.tables import RowState, delivery
from alertrouter_notifier.links import TWILIO_STATUS_PATH, TWILIO_VOICE_STATUS_PATH
from alertrouter_notifier.metrics import DELIVERIES
from alertrouter_shared.db_errors import retry_transient
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from alertrouter_shared.logging import get_logger
from alertrouter_shared.web.bodies import BOUNDED_BODY_RESPONSES

log = get_logger(__name__)
CALLBACK_ATTEMPTS = 4  # 0.2 + 0.4 + 0.6 s between them: well within the 15 s Twilio waits for an answer

# How long a status callback waits for the send's outcome to be committed. The outcome writer retries a database
# hiccup for about 2 s before giving up, and Twilio waits 15 s for an answer: a failure reported early, within the
# writer's retries, was answered 204 and ignored, so the router never heard it. (Slack buttons and key presses keep
# the shorter default: Slack wants its answer within 3 s, and a caller is listening.)
STATUS_CALLBACK_GRACE_SECONDS = 10.0

FINAL_STATUS = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
CALL_FINAL_STATUS = {
    "completed": DeliveryStatus.DELIVERED,
    "busy": DeliveryStatus.UNDELIVERED,
    "no-answer": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
    "voicemail": DeliveryStatus.UNDELIVERED,
}
CALL_MEANING = {
    "completed": None,
    "busy": "the line was busy",
    "no-answer": "nobody answered",
    "failed": "the call could not be placed",
    "canceled": "the call was canceled before it was answered",
    "voicemail": "answered by voicemail or a fax machine (AnsweredBy)",
}
ERROR_MEANING = {
    "30003": "unreachable handset",
    "30005": "unknown handset",
    "30006": "landline or unreachable carrier",
    "30007": "carrier filtering",
    "30008": "unknown error",
}


def twilio_router() -> APIRouter:
    router = twilio_api()

    @router.post(TWILIO_STATUS_PATH, status_code=204, response_class=Response, responses=BOUNDED_BODY_RESPONSES)
    async def status_callback(request: Request, ctx: Annotated[AppContext, Depends(context)]) -> Response:
        fields = await verified_form(request, ctx)
        final = FINAL_STATUS.get(fields.get("MessageStatus", "").lower())
        sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
        if final is not None and sid:
            code = fields.get("ErrorCode") or None
            error = f"{code}: {ERROR_MEANING.get(code, 'see Twilio error docs')}" if code else None
            await _apply(ctx, ContactMethodType.SMS, sid, final, code or final.value, error)
        return Response(status_code=204)

    @router.post(TWILIO_VOICE_STATUS_PATH, status_code=204, response_class=Response, responses=BOUNDED_BODY_RESPONSES)
    async def call_status(
        request: Request, ctx: Annotated[AppContext, Depends(context)], delivery: CallDelivery = None
    ) -> Response:
        fields = await verified_form(request, ctx)
        call_status = fields.get("CallStatus", "").lower()
        if call_status == "completed" and fields.get("AnsweredBy", "").startswith(("machine", "fax")):
            call_status = "voicemail"  # answered, but by a machine: nobody was reached
        final = CALL_FINAL_STATUS.get(call_status)
        sid = fields.get("CallSid", "")
        if final is not None and sid:
            meaning = CALL_MEANING[call_status]
            code = fields.get("ErrorCode") or fields.get("SipResponseCode")
            error = f"{call_status}: {meaning}" + (f" (code {code})" if code else "") if meaning else None
            await _apply(ctx, ContactMethodType.VOICE, sid, final, call_status, error, delivery)
        return Response(status_code=204)

    return router


async def _apply(
    ctx: AppContext,
    channel: ContactMethodType,
    sid: str,
    final: DeliveryStatus,
    code: str,
    error: str | None,
    delivery_id: str | None = None,
) -> None:
    """Twilio does not retry a status callback answered 500, so a database hiccup is retried here: a lost
    "undelivered" or "no-answer" left the delivery sent, and the router never escalated at once."""
    await retry_transient(
        lambda: _apply_once(ctx, channel, sid, final, code, error, delivery_id), CALLBACK_ATTEMPTS, "callback"
    )


async def _apply_once(
    ctx: AppContext,
    channel: ContactMethodType,
    sid: str,
    final: DeliveryStatus,
    code: str,
    error: str | None,
    delivery_id: str | None,
) -> None:
    if delivery_id and await _another_call_recorded(ctx, channel, delivery_id, sid):
        log.info("twilio_callback_not_the_recorded_call", delivery_id=delivery_id, sid=sid, status=final.value)
        return
    await recorded(ctx.engine, channel, sid, STATUS_CALLBACK_GRACE_SECONDS)  # it may overtake the outcome's commit
    now = ctx.clock.now()
    async with ctx.engine.begin() as conn:
        row = (
            await conn.execute(
                select(delivery.c.id, delivery.c.status, delivery.c.attempt_count, delivery.c.provider)
                .where(
                    delivery.c.provider_message_id == sid,
                    delivery.c.channel == channel.value,
                )
                .with_for_update()
            )
        ).first()
        if row is None or row.status != RowState.SENT.value:
            log.info("twilio_callback_ignored", sid=sid, status=final.value, current=row.status if row else None)
            return
        record = AttemptRecord(
            final, provider=row.provider or "twilio", provider_message_id=sid, provider_status_code=code, error=error
        )
        attempt_id = await mark_final(conn, row.id, row.attempt_count, record, now, claimed=False)
    DELIVERIES.labels(channel.value, final.value).inc()
    if ctx.publisher is not None:
        await ctx.publisher.publish([attempt_id])


async def _another_call_recorded(ctx: AppContext, channel: ContactMethodType, delivery_id: str, sid: str) -> bool:
    """Another call is recorded for the delivery: this one was placed before it (Twilio answered its creation after
    our timeout), and the delivery's outcome is the recorded call's."""
    sent = await by_delivery(ctx.engine, channel, delivery_id)
    return sent is not None and sent.provider_message_id is not None and sent.provider_message_id != sid
