"""Jinja2 templates shipped in the package, the filters they share, and the console's response headers.

Autoescaping is on for every template: labels, summaries and notes come from alerts and people. The headers keep
every page to its own origin's scripts and styles (no inline script, no CDN) and out of other sites' frames.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from alertrouter_router.console.errors import ConsoleError, SignInRequired
from alertrouter_router.console.session import Session, signed_in_person
from alertrouter_router.timefmt import duration, iso, local_time, local_times_in

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


ENV = Environment(
    loader=PackageLoader("alertrouter_router.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def counted(number: int, noun: str) -> str:
    """``1 page``, ``3 pages``: a count with its noun in the right number (nouns with a plain -s plural)."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


ENV.filters |= {
    "local": local_time,
    "local_times": local_times_in,
    "iso": iso,
    "duration": duration,
    "counted": counted,
}

NAV = [
    ("/ui/", "Now"),
    ("/ui/incidents", "Incidents"),
    ("/ui/why", "Why"),
    ("/ui/services", "Services"),
    ("/ui/schedules", "Schedules"),
    ("/ui/preview", "Preview"),
    ("/ui/health", "Team health"),
]


def _with_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def render(request: Request, template: str, session: Session | None, status: int = 200, **context: Any) -> Response:
    """A whole page (or a fragment, for templates whose name starts with ``_``)."""
    body = ENV.get_template(template).render(
        request=request,
        session=session,
        nav=NAV,
        path=request.url.path,
        tz=session.time_zone if session else "UTC",
        **context,
    )
    return _with_headers(HTMLResponse(body, status_code=status))


def redirect(location: str) -> Response:
    """After a form: the page to look at (303, so a reload does not post again)."""
    return _with_headers(RedirectResponse(location, status_code=303))


async def error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleError)
    return await _error(request, exc.status, exc.message)


async def _error(request: Request, status: int, message: str) -> Response:
    """The error page, with the navigation when someone is signed in (a 403 or 404 was a dead end without it)."""
    session = await signed_in_person(request)
    return render(request, "error.html", session, status=status, message=message, status_code=status)


# What a person is told when the router itself failed, by the status the API's handler chose for it.
_FAILED = {
    503: "the router cannot reach its database just now",
    500: "the router failed to answer (an internal error; its log has the details)",
}
_CHECK = "If you were acting on something, reload its page to see whether it was done before trying again."


async def failure_page(request: Request, status: int, detail: str) -> Response:
    """A failure of the router (not a refusal) as a page: never the API's problem+json, which a phone shows raw."""
    if status in _FAILED:
        detail = f"{_FAILED[status]}. {_CHECK}"
    return await _error(request, status, detail)


async def sign_in_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    query = {"next": exc.next_path} | ({"message": exc.message} if exc.message else {})
    return redirect(f"/ui/sign-in?{urlencode(query)}")
