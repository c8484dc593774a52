"""Refusals as responses: RFC 9457 problem+json everywhere, PagerDuty's own shapes on /v2/enqueue."""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi.responses import Response

from alertrouter_shared.web.errors import problem_response


class ApiProblem(Exception):
    """A refusal with its status, a detail naming the field, and a bounded ``reason`` for the rejects metric."""

    def __init__(
        self, status: int, detail: str, *, reason: str, retry_after: float | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.reason = reason
        self.retry_after = retry_after
        self.extra = extra

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="alertrouter-ingest", Basic realm="alertrouter-ingest"'
        return headers

    def render(self) -> Response:
        return problem_response(self.status, self.detail, self.headers(), **self.extra)


class PagerDutyProblem(ApiProblem):
    """The same refusal, rendered with PagerDuty's body so Events API clients understand it."""

    def __init__(self, status: int, body: dict[str, Any], *, reason: str, retry_after: float | None = None) -> None:
        super().__init__(status, str(body.get("message", "")), reason=reason, retry_after=retry_after)
        self.body = body

    def render(self) -> Response:
        return json_response(self.status, self.body, self.headers())


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)
