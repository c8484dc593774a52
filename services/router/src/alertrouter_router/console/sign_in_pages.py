"""Signing in with a person's token and signing out (``session.py`` explains the cookie and CSRF design)."""

from __future__ import annotations

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
    same,
    set_cookie,
    sign_in,
)

router = APIRouter(prefix="/ui")
# What the console itself sends people here with; any other ``message`` is someone else's words on our page.
MESSAGES = frozenset({"signed out", "sign in to continue", NOT_DONE})


def _next(value: str) -> str:
    """Only a console path: an open redirect to another site would be a phishing aid."""
    return value if value.startswith("/ui/") and not value.startswith("/ui//") else "/ui/"


def _form(request: Request, next_path: str, message: str = "", error: str = "", status: int = 200) -> Response:
    """The sign-in form with a fresh double-submitted value; ``next_path`` is where signing in leads."""
    nonce = secrets.token_urlsafe(24)
    page = render(
        request, "sign_in.html", None, status, nonce=nonce, next=_next(next_path), message=message, error=error
    )
    set_cookie(request, page, SIGN_IN_COOKIE, nonce, 3600)  # the double submit: the form carries it too
    return page


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    message = request.query_params.get("message", "")
    return _form(request, request.query_params.get("next", "/ui/"), message if message in MESSAGES else "")


@router.post("/sign-in")
async def sign_in_submit(request: Request) -> Response:
    """A refused token shows the form again with the reason, still leading where the person was going (the
    incident of the page they received): a mistyped token must not lose the way back to it."""
    form = await read_form(request)
    try:
        _, token = await sign_in(request, form.get("token", ""), form.get("nonce", ""))
    except ConsoleError as exc:
        return _form(request, form.get("next", "/ui/"), error=exc.message, status=exc.status)
    response = redirect(_next(form.get("next", "/ui/")))
    set_cookie(request, response, SESSION_COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(SIGN_IN_COOKIE, path="/ui")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """With the session's CSRF token, like every other form: another site's form must not sign a person out."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and not same((await read_form(request)).get("csrf", ""), csrf_token(token)):
        raise ConsoleError(403, "the form's CSRF token is missing or not this session's: reload the page")
    response = redirect("/ui/sign-in?message=signed+out")
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response
