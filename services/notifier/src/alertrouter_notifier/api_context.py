"""What HTTP handlers share: the per-app context and bearer-token authorisation (errors: alertrouter_shared.web)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.channels.slack_api import SlackApi
from alertrouter_notifier.publisher import ResultPublisher
from alertrouter_notifier.router_client import RouterClient
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.auth import Scope, TokenEntry, scopes_for
from alertrouter_shared.clock import Clock
from alertrouter_shared.web.bearer import bearer_token, invalid_token

KafkaProbe = Callable[[], Awaitable[bool]]


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
    scopes = scopes_for(bearer_token(request), ctx.tokens)
    if scopes is None:
        raise invalid_token()
    if Scope.READ not in scopes:
        raise HTTPException(403, "the API token lacks the 'read' scope")
