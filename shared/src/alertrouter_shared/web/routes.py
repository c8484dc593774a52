"""The route a request matched, by its template: what permission rules are keyed on and what logs may show."""

from __future__ import annotations

from starlette.requests import Request


def route_template(request: Request) -> str:
    """``/calendar/{secret}.ics``, not the path: some paths carry a credential (a calendar feed's secret, an
    acknowledge link's token), which must never reach the logs. The path itself when no route matched."""
    template = getattr(request.scope.get("route"), "path", None)
    return template if isinstance(template, str) else request.url.path
