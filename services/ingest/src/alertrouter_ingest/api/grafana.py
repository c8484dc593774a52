"""``POST /v1/grafana/{integration_key}`` and ``POST /v1/grafana`` (key in the Authorization header).

Grafana's webhook contact point: the URL carries the key, or the contact point's "Authorization header"
(scheme Bearer, credentials = the key) or basic auth (password = the key) does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alertrouter_ingest.api import openapi
from alertrouter_ingest.api.alertmanager import key_from_authorization, note_truncated
from alertrouter_ingest.api.problems import json_response
from alertrouter_ingest.api.schemas import Accepted
from alertrouter_ingest.intake import Ingest, invalid
from alertrouter_ingest.protection import check_content_type
from alertrouter_ingest.sources.errors import InvalidPayload
from alertrouter_ingest.sources.grafana import GrafanaWebhook, normalise_grafana, parse_grafana
from alertrouter_shared.integrations import IntegrationType

router = APIRouter(tags=["Grafana"])
SOURCE = "grafana"

RESPONSES: dict[int | str, dict[str, object]] = {
    202: openapi.json_body(Accepted, "Every alert was produced to Kafka and acknowledged"),
    400: openapi.problem("Malformed payload, unsupported version, or a label/annotation limit exceeded"),
    401: openapi.problem("No usable Authorization header (header form only)"),
    404: openapi.problem("No enabled grafana integration has this key; nothing was produced"),
    408: openapi.BODY_TIMEOUT,
    413: openapi.problem("Body, alert count or normalised events over the configured limits"),
    415: openapi.problem("Content-Type is not JSON"),
    503: openapi.problem(
        "Kafka unavailable, too many requests in flight, or the integration over its rate limit; retry",
        openapi.RETRY_AFTER,
    ),
}


@router.post(
    "/v1/grafana/{integration_key}",
    summary="Grafana alerting webhook (key in the path)",
    status_code=202,
    response_model=None,
    responses=RESPONSES,
    openapi_extra=openapi.request_body(GrafanaWebhook, "application/json"),
)
async def grafana_webhook(integration_key: str, request: Request) -> Response:
    """Grafana webhook contact point payload (version "1"): one alert event per alert."""
    ingest: Ingest = request.app.state.ingest
    return await ingest.guarded(SOURCE, lambda: _accept(ingest, request, integration_key))


@router.post(
    "/v1/grafana",
    summary="Grafana alerting webhook (key as Bearer token or Basic password)",
    status_code=202,
    response_model=None,
    responses=RESPONSES,
    openapi_extra={
        **openapi.request_body(GrafanaWebhook, "application/json"),
        "security": [{"bearerKey": []}, {"basicKey": []}],
    },
)
async def grafana_webhook_authorization(request: Request) -> Response:
    """The same intake, for the contact point's Authorization header or basic auth."""
    ingest: Ingest = request.app.state.ingest

    async def handle() -> Response:
        return await _accept(ingest, request, key_from_authorization(request.headers.get("authorization")))

    return await ingest.guarded(SOURCE, handle)


async def _accept(ingest: Ingest, request: Request, key: str) -> Response:
    integration = ingest.integration(key, IntegrationType.GRAFANA)
    ingest.check_rate(integration)
    check_content_type(request, {"application/json"})
    body = await ingest.body(request)
    with ingest.admitted(integration):
        try:
            webhook = parse_grafana(body)
            events = normalise_grafana(
                webhook,
                integration_id=integration.id,
                bound_service=integration.service,
                received_at=ingest.clock.now(),
                limits=ingest.limits,
            )
            refs = await ingest.publish(SOURCE, integration, events)
        except InvalidPayload as exc:
            raise invalid(exc) from exc
    note_truncated(integration, webhook.truncated_alerts, len(webhook.alerts), webhook.group_key)
    return json_response(202, {"status": "accepted", "events": [ref.__dict__ for ref in refs]})
