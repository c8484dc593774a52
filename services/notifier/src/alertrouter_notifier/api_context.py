"""What HTTP handlers share: the per-app context, problem+json errors, and bearer-token authorisation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.channels.slack_api import SlackApi
from alertrouter_notifier.publisher import ResultPublisher
from alertrouter_notifier.router_client import RouterClient
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.auth import Scope, TokenEntry, scopes_for
from alertrouter_shared.clock import Clock
from alertrouter_shared.problems import PROBLEM_CONTENT_TYPE, problem

KafkaProbe = Callable[[], Awaitable[bool]]


class ProblemError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(
        problem(status, detail, **extra), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


@dataclass
class AppContext:
    """What the handlers need, kept on ``app.state.ctx``."""

    settings: NotifierSettings
    engine: AsyncEngine
    clock: Clock
    http: httpx.AsyncClient
    publisher: ResultPublisher | None
    kafka_probe: KafkaProbe
    tokens: list[TokenEntry]
    router: RouterClient
    slack: SlackApi


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def require_read(request: Request, ctx: Annotated[AppContext, Depends(context)]) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(401, "a bearer API token is required", {"WWW-Authenticate": 'Bearer realm="alertrouter"'})
    scopes = scopes_for(token.strip(), ctx.tokens)
    if scopes is None:
        raise ProblemError(401, "the API token is not valid", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if Scope.READ not in scopes:
        raise ProblemError(403, "the API token lacks the 'read' scope")
