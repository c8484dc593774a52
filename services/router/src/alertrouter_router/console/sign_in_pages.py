"""Signing in with a person's token and signing out (``session.py`` explains the cookie and CSRF design)."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request, Response

from alertrouter_router.console.errors import ConsoleError
from alertrouter_router.console.forms import read_form
from alertrouter_router.console.rendering import redirect, render
from alertrouter_router.console.session import (
    NOT_DONE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SIGN_IN_COOKIE,
    csrf_token,
    set_cookie,
    sign_in,
)

router = APIRouter(prefix="/ui")
# What the console itself sends people here with; any other ``message`` is someone else's words on our page.
MESSAGES = frozenset({"signed out", "sign in to continue", NOT_DONE})


def _next(value: str) -> str:
    """Only a console path: an open redirect to another site would be a phishing aid."""
    return value if value.startswith("/ui/") and not value.startswith("/ui//") else "/ui/"


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    nonce = secrets.token_urlsafe(24)
    page = render(
        request,
        "sign_in.html",
        None,
        nonce=nonce,
        next=_next(request.query_params.get("next", "/ui/")),
        message=message if (message := request.query_params.get("message", "")) in MESSAGES else "",
    )
    set_cookie(request, page, SIGN_IN_COOKIE, nonce, 3600)  # the double submit: the form carries it too
    return page


@router.post("/sign-in")
async def sign_in_submit(request: Request) -> Response:
    form = await read_form(request)
    _, token = await sign_in(request, form.get("token", ""), form.get("nonce", ""))
    response = redirect(_next(form.get("next", "/ui/")))
    set_cookie(request, response, SESSION_COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(SIGN_IN_COOKIE, path="/ui")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """With the session's CSRF token, like every other form: another site's form must not sign a person out."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and not hmac.compare_digest((await read_form(request)).get("csrf", ""), csrf_token(token)):
        raise ConsoleError(403, "the form's CSRF token is missing or not this session's: reload the page")
    response = redirect("/ui/sign-in?message=signed+out")
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response
