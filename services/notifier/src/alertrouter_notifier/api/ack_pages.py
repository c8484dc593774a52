"""Acknowledge / resolve link pages, served by the notifier at ``/acknowledge/{token}`` and ``/resolve/{token}``.

``GET`` only shows a confirmation form: mail scanners and chat unfurlers prefetch links, and must never
acknowledge anything. ``POST`` (the form's button) verifies the token again and calls the router's API.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from alertrouter_notifier.ack_tokens import ExpiredToken, InvalidToken, LinkAction, LinkClaims, verify
from alertrouter_notifier.api.context import AppContext, context
from alertrouter_notifier.router_client import IncidentAction, Result
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_VERB = {LinkAction.ACKNOWLEDGE: "Acknowledge", LinkAction.RESOLVE: "Resolve"}
_DONE = {LinkAction.ACKNOWLEDGE: "acknowledged", LinkAction.RESOLVE: "resolved"}


def _page(title: str, body: str, status: int) -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}"
        "button{font-size:1.2rem;padding:.6rem 1.4rem}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _check(ctx: AppContext, token: str, action: LinkAction) -> LinkClaims | HTMLResponse:
    try:
        claims = verify(ctx.settings.ack_signing_secret.get_secret_value(), token, ctx.clock.now())
    except ExpiredToken:
        return _page("Link expired", "<p>This link has expired. Open the incident in alertrouter instead.</p>", 410)
    except InvalidToken:
        return _page("Invalid link", "<p>This link is not valid.</p>", 403)
    if claims.action is not action:
        return _page("Invalid link", "<p>This link is not valid for this action.</p>", 403)
    return claims


def _button(verb: str) -> str:
    """The confirmation form: it posts back to the page's own URL (the token)."""
    return f'<form method="post"><button type="submit">{verb}</button></form>'


def ack_router() -> APIRouter:
    router = APIRouter()

    for action in LinkAction:
        _register(router, action)
    return router


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


# People open these links in a browser: their answers, refusals included, are HTML pages.
_PAGES: dict[int | str, dict[str, Any]] = {
    403: _html("The link is not valid (or not for this action), or its person may not act on the incident"),
    404: _html("The incident does not exist"),
    409: _html("Nothing to do: the incident is already in that state"),
    410: _html("The link has expired"),
    502: _html("The router could not be reached (nothing was changed) or did not confirm the change"),
}


def _register(router: APIRouter, action: LinkAction) -> None:
    verb = _VERB[action]

    @router.get(
        f"/{action.value}/{{token}}", response_class=HTMLResponse, responses=_PAGES, name=f"{action.value}_confirm"
    )
    async def confirm(token: str, ctx: Annotated[AppContext, Depends(context)]) -> HTMLResponse:
        claims = _check(ctx, token, action)
        if isinstance(claims, HTMLResponse):
            return claims
        body = (
            f"<p>{verb} incident <code>{escape(claims.incident_id)}</code> "
            f"as <strong>{escape(claims.user_id)}</strong>?</p>"
            f"{_button(verb)}"
        )
        return _page(f"{verb} incident", body, 200)

    @router.post(
        f"/{action.value}/{{token}}", response_class=HTMLResponse, responses=_PAGES, name=f"{action.value}_submit"
    )
    async def submit(token: str, ctx: Annotated[AppContext, Depends(context)]) -> HTMLResponse:
        claims = _check(ctx, token, action)
        if isinstance(claims, HTMLResponse):
            return claims
        outcome = await ctx.router.act(
            claims.incident_id, IncidentAction(action.value), claims.user_id, f"{_DONE[action]} via link"
        )
        incident = escape(claims.incident_id)
        if outcome.result is Result.DONE:
            log.info("incident_action_via_link", incident_id=claims.incident_id, action=action.value)
            return _page(
                f"Incident {_DONE[action]}", f"<p>Incident <code>{incident}</code> is {_DONE[action]}.</p>", 200
            )
        if outcome.result is Result.NOT_FOUND:
            return _page("Not found", f"<p>Incident <code>{incident}</code> does not exist.</p>", 404)
        if outcome.result is Result.UNCHANGED:
            return _page(
                "Nothing to do",
                f"<p>Incident <code>{incident}</code> is already {escape(outcome.status or 'closed')}.</p>",
                409,
            )
        if outcome.result is Result.REFUSED:
            why = f" {escape(outcome.detail)}." if outcome.detail else ""
            return _page(
                "Not allowed",
                f"<p>You may not {action.value} incident <code>{incident}</code>.{why} Nothing was changed.</p>",
                403,
            )
        if outcome.result is Result.UNCONFIRMED:
            return _page(
                "Not confirmed",
                f"<p>alertrouter did not confirm: incident <code>{incident}</code> may or may not be "
                f"{_DONE[action]}. Press the button again to find out.</p>{_button(verb)}",
                502,
            )
        return _page(
            "Try again",
            f"<p>alertrouter could not be reached. Nothing was changed; please try again.</p>{_button(verb)}",
            502,
        )
