"""Requests from Twilio (status callbacks, inbound messages, call digits): X-Twilio-Signature verification.

The signature is computed over the public URL we gave Twilio (``NOTIFIER_PUBLIC_URL`` + path + query), because
behind a proxy the URL this process sees differs from the one Twilio called. Twilio is known to sign that URL with
the port and without it (``https://host:443/…`` or ``https://host/…``; its SDKs accept either), so both spellings
are accepted. Both configured auth tokens are accepted (primary and the Twilio-compatible secondary), so rotating
one never rejects the other's callbacks. The signature is compared in constant time, as bytes: a header that is
not ASCII is a mismatch (403), not an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.security import APIKeyHeader

from alertrouter_notifier.api.context import AppContext, callback_body
from alertrouter_notifier.links import CALL_DELIVERY_PARAM, public_url
from alertrouter_shared.web.bodies import BOUNDED_BODY_RESPONSES

TWIML = "application/xml"
# Declares Twilio's request signature in the OpenAPI document; ``verified_form`` checks it.
TWILIO_SIGNATURE = APIKeyHeader(
    name="X-Twilio-Signature",
    scheme_name="twilioSignature",
    description="HMAC-SHA1 of the public URL and the form fields with the Twilio auth token; 403 if it does not match",
    auto_error=False,
)
# ``?delivery=`` on a call's callbacks (links.CALL_DELIVERY_PARAM): it is part of the signed URL, so it is as
# genuine as the request; callbacks of calls placed before it existed come without it.
CallDelivery = Annotated[
    str | None,
    Query(
        alias=CALL_DELIVERY_PARAM,
        description="the delivery the call was placed for (set in the URLs given to Twilio, signed with them)",
    ),
]
TWIML_REPLY: dict[int | str, dict[str, Any]] = {
    200: {"description": "A TwiML document", "content": {TWIML: {"schema": {"type": "string"}}}},
    **BOUNDED_BODY_RESPONSES,
}


def twilio_api() -> APIRouter:
    """A router for routes Twilio calls: signed requests, tagged together in the document."""
    return APIRouter(tags=["twilio"], dependencies=[Depends(TWILIO_SIGNATURE)])


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


DEFAULT_PORTS = {"https": 443, "http": 80}


def url_spellings(url: str) -> list[str]:
    """``url`` as given, without its port and with it (the scheme's default when it names none)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return [url]
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    spellings = [url, urlunsplit(parts._replace(netloc=host))]
    if (shown := port or DEFAULT_PORTS.get(parts.scheme)) is not None:
        spellings.append(urlunsplit(parts._replace(netloc=f"{host}:{shown}")))
    return list(dict.fromkeys(spellings))


def signature_valid(auth_tokens: list[str], url: str, params: list[tuple[str, str]], presented: str) -> bool:
    given = presented.encode("utf-8", "replace")
    return any(
        hmac.compare_digest(twilio_signature(token, spelling, params).encode(), given)
        for token in auth_tokens
        if token
        for spelling in url_spellings(url)
    )


async def verified_form(request: Request, ctx: AppContext) -> dict[str, str]:
    """The form fields of a genuine Twilio request; anything else is refused with 403 before it has any effect."""
    params = parse_qsl((await callback_body(request)).decode("utf-8", "replace"), keep_blank_values=True)
    url = public_url(ctx.settings.public_url, request.url.path)
    if request.url.query:
        url += "?" + request.url.query
    tokens = ctx.settings.twilio_callback_tokens()
    if not signature_valid(tokens, url, params, request.headers.get("X-Twilio-Signature", "")):
        raise HTTPException(403, "X-Twilio-Signature does not match this request")
    return dict(params)


def twiml(body: str) -> Response:
    """A TwiML document (``body`` is already-escaped XML inside ``<Response>``)."""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', media_type=TWIML)
