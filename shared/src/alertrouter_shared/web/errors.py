"""Every error leaves an app as application/problem+json (RFC 9457): raised ``HTTPException`` s, request
validation (422 with every invalid field), a cursor the API did not make (422), the framework's own 404/405 for
routes that do not exist, 503 for a dependency that went away (a database connection dropped by a restart: the
pool is renewed and a retry succeeds), 422 for a value PostgreSQL cannot store (a NUL character in a query, a path
or a note: any caller could otherwise make 500s and error logs at will), and 500 for an answer that does not match
its response model or any other failure."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from alertrouter_shared.cursors import InvalidCursor
from alertrouter_shared.db_errors import is_transient, is_unstorable_text
from alertrouter_shared.logging import get_logger
from alertrouter_shared.problems import PROBLEM_CONTENT_TYPE, problem, validation_problem
from alertrouter_shared.web.routes import route_template

log = get_logger(__name__)

UNSTORABLE = "a value of the request contains a NUL character (U+0000), which cannot be stored or looked up"


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(problem(status, detail, **extra), status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def install_problem_handlers(app: FastAPI) -> None:
    """Starlette's ``HTTPException`` (FastAPI's is a subclass) also covers unknown routes and methods."""

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return problem_response(exc.status_code, detail, dict(exc.headers or {}))

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        body = validation_problem(exc.errors())
        return JSONResponse(body, 422, media_type=PROBLEM_CONTENT_TYPE)

    async def invalid_cursor(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(422, str(exc))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            log.warning("dependency_unavailable", path=route_template(request), error_type=type(exc).__name__)
            return problem_response(503, "a dependency is unavailable; retry", {"Retry-After": "1"})
        if is_unstorable_text(exc):
            log.info("unstorable_value_refused", path=route_template(request), error_type=type(exc).__name__)
            return problem_response(422, UNSTORABLE)
        # A route whose answer drifted from its model is a bug to see in the logs, not a body to show the caller.
        drift = isinstance(exc, ResponseValidationError)
        log.error("unhandled_error", path=route_template(request), error_type=type(exc).__name__, response_model=drift)
        return problem_response(500, "internal error")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(InvalidCursor, invalid_cursor)
    app.add_exception_handler(RequestValidationError, validation_error)
