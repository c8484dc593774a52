"""The ingest application: ``create_app`` builds it in-process (tests) or for uvicorn (``__main__``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from alertrouter_ingest.api import (
    alertmanager,
    change_events,
    cloudwatch,
    config,
    events_v2,
    grafana,
    health,
    heartbeats,
    openapi,
)
from alertrouter_ingest.api.lean import IngestApp
from alertrouter_ingest.config_reload import IntegrationsConfig
from alertrouter_ingest.intake import Ingest
from alertrouter_ingest.process_metrics import worker_stopped
from alertrouter_ingest.publisher import Publisher
from alertrouter_ingest.settings import IngestSettings
from alertrouter_ingest.sns.certificates import CertificateStore, load_trust_store, tls_context
from alertrouter_shared.clock import Clock, SystemClock
from alertrouter_shared.logging import get_logger
from alertrouter_shared.web.errors import install_problem_handlers, problem_response

log = get_logger(__name__)

DESCRIPTION = """\
Receives alerts from Prometheus Alertmanager, Grafana alerting, Amazon CloudWatch (through SNS) and any PagerDuty
Events API v2 client, and produces one normalised alert event per alert to Kafka; PagerDuty change events go to the
changes topic. A 2xx answer means Kafka acknowledged every event; 503 (with Retry-After) asks the sender to retry;
408 means the body did not arrive in time; any other 4xx means the request can never be accepted as sent. Errors are
RFC 9457 problem+json, except on /v2/enqueue and /v2/change/enqueue where 400 and 429 use PagerDuty's bodies.
"""


def create_app(
    settings: IngestSettings | None = None,
    publisher: Publisher | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the app. A given ``publisher`` must be started and stopped by the caller."""
    settings = settings or IngestSettings()
    integrations = IntegrationsConfig.load(settings.config_path)
    owns_publisher = publisher is None
    publisher = publisher or Publisher(settings)
    http = httpx.AsyncClient(
        verify=tls_context(settings.sns_tls_ca_bundle),
        timeout=settings.sns_fetch_timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": "alertrouter-ingest"},
    )
    certificates = CertificateStore(
        client=http,
        trust=load_trust_store(settings.sns_ca_bundle),
        aia_host_pattern=re.compile(settings.sns_aia_host_pattern),
        ttl_seconds=settings.sns_cert_cache_ttl_seconds,
        max_entries=settings.sns_cert_cache_size,
    )
    ingest = Ingest(settings, integrations, publisher, clock or SystemClock(), http, certificates)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if owns_publisher:
            await publisher.start()
        log.info("ingest_started", integrations=len(integrations.registry), bootstrap=settings.kafka_bootstrap_servers)
        stopping = asyncio.Event()
        watch = asyncio.create_task(integrations.follow(settings.config_poll_seconds, stopping), name="config-watch")
        try:
            yield
        finally:
            stopping.set()
            await watch
            if owns_publisher:
                await publisher.stop()
            await http.aclose()
            worker_stopped()

    app = IngestApp(
        title="alertrouter ingest",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "Alertmanager", "description": "Prometheus Alertmanager webhook_config receiver"},
            {"name": "Grafana", "description": "Grafana unified alerting webhook contact point"},
            {"name": "CloudWatch through SNS", "description": "SNS HTTPS subscription, signatures verified"},
            {"name": "PagerDuty Events API v2", "description": "Drop-in /v2/enqueue"},
            {"name": "Operations", "description": "Health, readiness and metrics"},
        ],
    )
    app.state.ingest = ingest
    for module in (alertmanager, grafana, cloudwatch, events_v2, change_events, heartbeats, health, config):
        app.include_router(module.router)
    _install_error_handlers(app)
    app.openapi = lambda: openapi.build_openapi(app)  # type: ignore[method-assign]
    app.access_log = settings.access_log
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """HTTP errors and unknown routes as every service answers them; ingest's own 400 for a request FastAPI
    could not parse (handlers read raw bodies, so it is never a field error) and 500 that accepted nothing."""
    install_problem_handlers(app)

    async def validation_error(_: Request, exc: Exception) -> Response:
        return problem_response(400, f"invalid request: {exc}")

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.error("unhandled_error", error_type=type(exc).__name__)
        return problem_response(500, "internal error; nothing was accepted")

    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
