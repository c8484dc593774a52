"""Signing in with a person's token, the session cookie, CSRF tokens, and the rule check of every console route.

The cookie holds the person's API token itself: HttpOnly (page scripts never see it), ``SameSite=Lax`` (sent when
a responder follows a link from a page or a chat message, never with a cross-site form post), ``Secure`` when
the console is reached over HTTPS, scoped to ``/ui``. Every request validates it exactly like a bearer token, so
an expired or revoked token, or a person who left the configuration, is signed out at once and no server-side
session store is needed (any API replica serves any request). The CSRF token of a session is an HMAC of the
fixed label below keyed by the session's token: a page of another site cannot compute it, and it needs no secret
of the server's. Signing in itself is protected by a double-submitted random value (a cookie and a form field).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request, Response

from alertrouter_router.api.auth import principal_for
from alertrouter_router.api.permissions import CONSOLE, refusal
from alertrouter_router.console.errors import ConsoleError, SignInRequired
from alertrouter_router.console.forms import read_form
from alertrouter_router.identity import Principal
from alertrouter_shared.web.routes import route_template

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState

SESSION_COOKIE = "alertrouter_console"
SIGN_IN_COOKIE = "alertrouter_console_sign_in"
NOT_DONE = "your session has ended, so that was not done: sign in and do it again"
SESSION_SECONDS = 7 * 24 * 3600  # the token's own expiry and revocation still apply at every request
_CSRF_LABEL = b"alertrouter console csrf v1"
_DONE_LABEL = b"alertrouter console done v1\n"


@dataclass(frozen=True)
class Session:
    """The signed-in person of a console request."""

    who: Principal
    csrf: str
    state: RouterState
    time_zone: str

    @property
    def user_id(self) -> str:
        assert self.who.user_id is not None
        return self.who.user_id

    def done_query(self, text: str) -> str:
        """The query of the page a form redirects to, saying what happened ("Done: acknowledged by bob"); signed
        with this session's CSRF token, so only an action of this session can make a page say it."""
        return urlencode({"done": text, "sig": self._signed(text)})

    def done(self, request: Request) -> str:
        """The page's "Done: ..." line, or none when the query's is not this session's (a link someone sent)."""
        text = request.query_params.get("done", "")
        sig = request.query_params.get("sig", "")
        return text if text and same(sig, self._signed(text)) else ""

    def _signed(self, text: str) -> str:
        return hmac.new(self.csrf.encode(), _DONE_LABEL + text.encode(), hashlib.sha256).hexdigest()

    async def may(self, method: str, api_path: str, **params: str) -> bool:
        """Whether the API would let this person call (method, api_path): buttons are shown only then."""
        return await refusal(self.state, self.who, method, api_path, params) is None


def same(presented: str, expected: str) -> bool:
    """A constant-time comparison of any text: ``hmac.compare_digest`` refuses a str with a character outside
    ASCII (TypeError), so a forged CSRF token, nonce or ``sig`` of that kind answered 500, not a refusal."""
    return hmac.compare_digest(presented.encode(), expected.encode())


def csrf_token(token: str) -> str:
    return hmac.new(token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def forwarded_scheme(header: str) -> str:
    """The scheme of ``X-Forwarded-Proto``: behind chained proxies each appends its own hop (``https, http``), and
    only the first is the one the person's browser used."""
    return header.split(",", 1)[0].strip().lower()


def standard_forwarded_scheme(header: str) -> str:
    """The ``proto`` of the first element of RFC 7239's ``Forwarded`` (``for=1.2.3.4;proto=https, for=…``), the
    header proxies such as Envoy, Traefik or an F5 may send instead of ``X-Forwarded-Proto``."""
    first = header.split(",", 1)[0]
    for pair in first.split(";"):
        name, _, value = pair.partition("=")
        if name.strip().lower() == "proto":
            return value.strip().strip('"').lower()
    return ""


def secure(request: Request) -> bool:
    """Whether the person reached the console over HTTPS, directly or through the proxy that ends TLS; the one
    reader of ``X-Forwarded-Proto`` and ``Forwarded`` (Secure cookies, https feed URLs)."""
    headers = request.headers
    return "https" in (
        request.url.scheme,
        forwarded_scheme(headers.get("x-forwarded-proto", "")),
        standard_forwarded_scheme(headers.get("forwarded", "")),
    )


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/ui", httponly=True, samesite="lax", secure=secure(request))


async def sign_in(request: Request, token: str, nonce: str) -> tuple[Principal, str]:
    """The person of ``token`` (checked like a bearer token); ConsoleError when it is not a valid person's token."""
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not same(nonce, expected):
        raise ConsoleError(400, "the sign-in form expired: load the sign-in page again")
    who = await _principal(request.app.state.router, token.strip())
    if who is None:
        raise ConsoleError(401, "that token is not valid (unknown, expired or revoked)")
    if who.user_id is None:
        raise ConsoleError(403, "the console is for people: sign in with a token created for a user, not a client")
    return who, token.strip()


async def _principal(state: RouterState, token: str) -> Principal | None:
    if not token:
        return None
    try:
        return await principal_for(state, token)
    except HTTPException:
        return None


def _came_from(request: Request) -> str:
    """The console page a form was posted from (its same-origin ``Referer``), else the home page."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/ui/"):
        return "/ui/"
    return referer.path + (f"?{referer.query}" if referer.query else "")


async def console_session(request: Request) -> Session:
    """Every console page and action: a signed-in person, a valid CSRF token on a POST, and the API's rule."""
    state: RouterState = request.app.state.router
    token = request.cookies.get(SESSION_COOKIE, "")
    who = await _principal(state, token)
    if who is None or who.user_id is None:
        if request.method == "POST":  # the action was not taken: say so, and come back to the page it was on
            raise SignInRequired(_came_from(request), NOT_DONE)
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(wanted, "sign in to continue" if token else "")
    csrf = csrf_token(token)
    if request.method == "POST":
        sent = (await read_form(request)).get("csrf", "")
        if not same(sent, csrf):
            raise ConsoleError(403, "the form's CSRF token is missing or not this session's: reload the page")
    api = CONSOLE.get((request.method, route_template(request)))
    if api is None:
        raise ConsoleError(403, f"{request.method} {route_template(request)} has no permission rule")
    if why := await refusal(state, who, api[0], api[1], request.path_params):
        raise ConsoleError(403, why)
    return _session(state, who, token)


def _session(state: RouterState, who: Principal, token: str) -> Session:
    assert who.user_id is not None
    user = state.configs.current.config.users_by_id.get(who.user_id)
    return Session(who=who, csrf=csrf_token(token), state=state, time_zone=user.time_zone if user else "UTC")


async def signed_in_person(request: Request) -> Session | None:
    """The person of the session cookie, if any, whatever the page's rule: an error page (a 403, a 404) gives them
    the navigation of every other page, so they can go somewhere else. None when nobody is signed in, and when
    the token cannot be checked (the error may be that the database is unreachable: the page must still show)."""
    state: RouterState = request.app.state.router
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        who = await _principal(state, token)
    except Exception:  # the error page of a failure must not fail in its turn
        return None
    return None if who is None or who.user_id is None else _session(state, who, token)
