"""What HTTP handlers share: the per-app context, bearer-token authorisation and the bounded read of provider
callbacks (errors: alertrouter_shared.web)."""

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
from alertrouter_shared.web.bodies import read_body

KafkaProbe = Callable[[], Awaitable[bool]]

# Twilio's callbacks are forms of a few kilobytes and Slack's interaction payloads carry one of our own messages:
# a megabyte is far above either, and bounds what anyone on the internet can make the notifier buffer unsigned.
CALLBACK_BODY_BYTES = 1 << 20
CALLBACK_BODY_SECONDS = 10.0


async def callback_body(request: Request) -> bytes:
    """The body of a provider's callback, read before its signature can be checked: bounded in size and time."""
    return await read_body(request, CALLBACK_BODY_BYTES, CALLBACK_BODY_SECONDS)


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
