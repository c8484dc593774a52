"""Reading a submitted HTML form (``application/x-www-form-urlencoded``) without a multipart parser.

The console's forms only send short text fields, so the standard library's query-string parser is enough; a body
larger than ``MAX_FORM_BYTES`` is refused rather than read.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import Request

from alertrouter_router.console.errors import ConsoleError
from alertrouter_shared.web.bodies import BodyRefused, read_body

MAX_FORM_BYTES = 16 * 1024
FORM_READ_SECONDS = 10.0


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (the last value of a repeated field); kept on the request so it is read once."""
    cached: dict[str, str] | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    try:
        body = await read_body(request, MAX_FORM_BYTES, FORM_READ_SECONDS)
    except BodyRefused as exc:  # the sign-in form is read before anyone is signed in
        raise ConsoleError(exc.status_code, "the form is too large" if exc.status_code == 413 else exc.detail) from exc
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise ConsoleError(400, "the form is not UTF-8") from exc
    request.state.form = fields
    return fields


def local_instant(value: str, zone: str, name: str) -> datetime | None:
    """A ``datetime-local`` field (wall time, no offset) read in the person's time zone; an offset given wins."""
    if not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ConsoleError(422, f"{name}: not a date and time (e.g. 2026-12-04T18:00)") from exc
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo(zone))
