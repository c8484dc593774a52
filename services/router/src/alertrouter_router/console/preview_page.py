"""Preview: labels in, the route and the whole escalation timeline out, through ``preview_decision`` (the body of
``POST /v1/route/preview``: the live path's ``decide`` on a read-only snapshot). A GET form, so a preview is a
link one can share."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import ValidationError

from alertrouter_router.api.preview import PreviewRequest, preview_decision
from alertrouter_router.console.errors import ConsoleError
from alertrouter_router.console.forms import local_instant
from alertrouter_router.console.rendering import render
from alertrouter_router.console.session import Session, console_session
from alertrouter_router.decisions.explain import how_selected

router = APIRouter()
Signed = Annotated[Session, Depends(console_session)]


# A comma starts a new pair only where ``name=`` follows: ``hosts=a,b`` is one label whose value has a comma.
_PAIR_SEPARATOR = re.compile(r",\s*(?=[A-Za-z_][A-Za-z0-9_]*\s*=)")


def parse_labels(text: str) -> dict[str, str]:
    """``name=value`` pairs, one per line or separated by commas; quotes around a value are dropped. Splitting on
    every comma refused a value with one in it (``instances=a,b``: "'b' is not name=value"), so such an alert
    could not be previewed."""
    labels = {}
    for part in _PAIR_SEPARATOR.sub("\n", text).splitlines():
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ConsoleError(422, f"labels: {part.strip()!r} is not name=value")
        labels[name.strip()] = value.strip().strip('"')
    return labels


@router.get("/ui/preview")
async def preview(request: Request, session: Signed) -> Response:
    text = request.query_params.get("labels", "")
    at_text = request.query_params.get("at", "")
    result = None
    if text.strip():
        try:
            body = PreviewRequest(labels=parse_labels(text), at=local_instant(at_text, session.time_zone, "at"))
            result = await preview_decision(session.state, body)
        except HTTPException as exc:
            raise ConsoleError(exc.status_code, str(exc.detail)) from exc
        except ValidationError as exc:  # the request (and the alert it builds) refuses an instant outside 1970-2200
            raise ConsoleError(422, f"at: {exc.errors()[0]['msg']}") from exc
        for step in result["escalation_timeline"]:
            for target in step["targets"]:
                target["how"] = how_selected(target["selected_by"])
    return render(request, "preview.html", session, labels=text, at=at_text, result=result)
