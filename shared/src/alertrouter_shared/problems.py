"""RFC 9457 problem details, built without a web framework so every service renders errors the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(BaseModel):
    """RFC 9457 problem details: every error of every service has this body (some add members, e.g. ``errors``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "incident 'x' not found"}
            ]
        },
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str


class FieldProblem(BaseModel):
    field: str = Field(..., description="where: body.ends_at, query.limit, path.incident_id")
    message: str


class ValidationProblem(Problem):
    """A 422: the request is not valid; when fields are, ``errors`` names each with what is wrong."""

    errors: list[FieldProblem] = Field(default_factory=list)


def problem(status: int, detail: str, *, type_: str = "about:blank", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return body


def validation_problem(errors: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A 422 body from pydantic's error list: every invalid field, the first one in ``detail``."""
    found = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "message": str(err.get("msg", ""))} for err in errors
    ]
    first = found[0] if found else {"field": "", "message": "invalid request"}
    return problem(422, f"{first['field']}: {first['message']}", errors=found)
