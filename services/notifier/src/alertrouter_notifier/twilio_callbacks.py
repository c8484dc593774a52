"""Twilio status callbacks: signature-verified updates of an SMS's final status (delivered / undelivered / failed).

Callbacks arrive out of order and more than once, so only a ``sent`` delivery moves, and only forward.
The signature is computed over the public URL we gave Twilio (``NOTIFIER_PUBLIC_URL`` + path), because behind a
proxy the URL this process sees differs from the one Twilio called.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from alertrouter_notifier.api_context import AppContext, ProblemError, context
from alertrouter_notifier.ledger import AttemptRecord, mark_final
from alertrouter_notifier.metrics import DELIVERIES
from alertrouter_notifier.tables import RowState, delivery
from alertrouter_shared.events import ContactMethodType, DeliveryStatus
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

STATUS_CALLBACK_PATH = "/v1/twilio/status"
FINAL_STATUS = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
ERROR_MEANING = {
    "30003": "unreachable handset",
    "30005": "unknown handset",
    "30006": "landline or unreachable carrier",
    "30007": "carrier filtering",
    "30008": "unknown error",
}


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def signature_valid(auth_tokens: list[str], url: str, params: list[tuple[str, str]], presented: str) -> bool:
    return any(hmac.compare_digest(twilio_signature(token, url, params), presented) for token in auth_tokens if token)


def callback_url(public_url: str) -> str:
    return public_url.rstrip("/") + STATUS_CALLBACK_PATH


def twilio_router() -> APIRouter:
    router = APIRouter()

    @router.post(STATUS_CALLBACK_PATH, status_code=204)
    async def status_callback(request: Request, ctx: Annotated[AppContext, Depends(context)]) -> Response:
        params = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        url = callback_url(ctx.settings.public_url)
        if request.url.query:
            url += "?" + request.url.query
        tokens = [
            ctx.settings.twilio_auth_token.get_secret_value(),
            ctx.settings.sms_secondary_auth_token.get_secret_value(),
        ]
        if not signature_valid(tokens, url, params, request.headers.get("X-Twilio-Signature", "")):
            raise ProblemError(403, "X-Twilio-Signature does not match this request")
        fields = dict(params)
        final = FINAL_STATUS.get(fields.get("MessageStatus", "").lower())
        sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
        if final is None or not sid:
            return Response(status_code=204)
        await _apply(ctx, sid, final, fields.get("ErrorCode") or None)
        return Response(status_code=204)

    return router


async def _apply(ctx: AppContext, sid: str, final: DeliveryStatus, error_code: str | None) -> None:
    now = ctx.clock.now()
    async with ctx.engine.begin() as conn:
        row = (
            await conn.execute(
                select(delivery.c.id, delivery.c.status, delivery.c.attempt_count, delivery.c.provider)
                .where(
                    delivery.c.provider_message_id == sid,
                    delivery.c.channel == ContactMethodType.SMS.value,
                )
                .with_for_update()
            )
        ).first()
        if row is None or row.status != RowState.SENT.value:
            log.info("twilio_callback_ignored", sid=sid, status=final.value, current=row.status if row else None)
            return
        error = f"{error_code}: {ERROR_MEANING.get(error_code, 'see Twilio error docs')}" if error_code else None
        record = AttemptRecord(
            final,
            provider=row.provider or "twilio",
            provider_message_id=sid,
            provider_status_code=error_code or final.value,
            error=error,
        )
        attempt_id = await mark_final(conn, row.id, row.attempt_count, record, now, claimed=False)
    DELIVERIES.labels(ContactMethodType.SMS.value, final.value).inc()
    if ctx.publisher is not None:
        await ctx.publisher.publish([attempt_id])
