"""The notifier's HTTP app: health, readiness, metrics, the delivery records, the providers' check, and the routes
of the acknowledge/resolve links and of the providers' callbacks."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.api.ack_pages import ack_router
from alertrouter_notifier.api.context import AppContext, KafkaProbe, context, require_read
from alertrouter_notifier.api.slack_interactions import slack_router
from alertrouter_notifier.api.sms_replies import sms_router
from alertrouter_notifier.api.twilio_callbacks import twilio_router
from alertrouter_notifier.api.twilio_voice import voice_router
from alertrouter_notifier.channels.slack_api import SlackApi
from alertrouter_notifier.db.delivery_reads import DeliveryFilters, DeliveryPage, list_deliveries
from alertrouter_notifier.db.tables import RowState
from alertrouter_notifier.provider_checks import check_providers
from alertrouter_notifier.publisher import ResultPublisher
from alertrouter_notifier.router_client import RouterClient
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.auth import load_token_entries
from alertrouter_shared.clock import Clock, SystemClock
from alertrouter_shared.events import ContactMethodType
from alertrouter_shared.kafka import kafka_reachable
from alertrouter_shared.provider_check import ProviderCheckReport, ProviderCheckRequest
from alertrouter_shared.web.bearer import BEARER
from alertrouter_shared.web.errors import install_problem_handlers
from alertrouter_shared.web.openapi import document_problems
from alertrouter_shared.web.queries import declared_query_only
from alertrouter_shared.web.readiness import database_reachable, health_routes, run_checks


async def _ready_checks(request: Request) -> dict[str, Any]:
    ctx = context(request)
    found = await run_checks({"kafka": ctx.kafka_probe(), "database": database_reachable(ctx.engine)})
    return {name: "ok" if usable else "unreachable" for name, usable in found.items()}


def create_app(
    settings: NotifierSettings,
    engine: AsyncEngine,
    *,
    http: httpx.AsyncClient,
    publisher: ResultPublisher | None = None,
    clock: Clock | None = None,
    kafka_probe: KafkaProbe | None = None,
) -> FastAPI:
    """Build the API around resources owned by the caller (the composition root or a test)."""
    app = FastAPI(title="alertrouter notifier", version="1", docs_url=None, redoc_url=None)

    async def probe_kafka() -> bool:
        return await kafka_reachable(settings)

    app.state.ctx = AppContext(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        http=http,
        publisher=publisher,
        kafka_probe=kafka_probe or probe_kafka,
        tokens=load_token_entries(settings.api_tokens, settings.api_tokens_file),
        router=RouterClient(http, settings.router_url, settings.router_api_token.get_secret_value()),
        slack=SlackApi(http, api_url=settings.slack_api_url, bot_token=settings.slack_bot_token.get_secret_value()),
    )

    install_problem_handlers(app)
    document_problems(app)

    @app.get(
        "/v1/deliveries",
        dependencies=[Depends(BEARER), Depends(require_read), Depends(declared_query_only)],
        tags=["deliveries"],
    )
    async def deliveries(
        ctx: Annotated[AppContext, Depends(context)],
        incident: str | None = None,
        page: str | None = None,
        status: RowState | None = None,  # a filter that cannot match as written is a 422, not an empty page
        channel: ContactMethodType | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> DeliveryPage:
        filters = DeliveryFilters(incident=incident, page=page, status=status, channel=channel)
        async with ctx.engine.connect() as conn:
            return await list_deliveries(conn, filters, limit, cursor)

    @app.post("/v1/providers/check", dependencies=[Depends(BEARER), Depends(require_read)], tags=["providers"])
    async def providers_check(
        ctx: Annotated[AppContext, Depends(context)], body: ProviderCheckRequest | None = None
    ) -> ProviderCheckReport:
        """Each provider's own check, sending nothing (a silent drill asks for it): see provider_checks.py."""
        channels = (body or ProviderCheckRequest()).channels
        return await check_providers(ctx.settings, channels, ctx.clock)

    app.include_router(health_routes(_ready_checks))
    app.include_router(twilio_router())
    app.include_router(voice_router())
    app.include_router(sms_router())
    app.include_router(slack_router())
    app.include_router(ack_router())
    return app
