"""``POST /v1/alertmanager/{integration_key}`` and ``POST /v1/alertmanager`` (key in the Authorization header).

The header form serves Alertmanager's ``http_config``: ``authorization: {credentials: <key>}`` (Bearer) or
``basic_auth`` with the key as the password (the username is free, e.g. the integration id).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alertrouter_ingest.api import openapi
from alertrouter_ingest.api.problems import ApiProblem, json_response
from alertrouter_ingest.api.schemas import Accepted, Ignored
from alertrouter_ingest.intake import EventRef, Ingest, invalid
from alertrouter_ingest.integrations import Integration
from alertrouter_ingest.metrics import ALERTMANAGER_IGNORED, TRUNCATED_ALERTS
from alertrouter_ingest.protection import check_content_type
from alertrouter_ingest.sources.alertmanager import AlertmanagerWebhook, normalise_webhook, parse_webhook
from alertrouter_ingest.sources.errors import InvalidPayload
from alertrouter_ingest.sources.heartbeat import beat
from alertrouter_shared.integrations import IntegrationType
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["Alertmanager"])
SOURCE = "alertmanager"
WATCHDOG_RESOLVED = "watchdog_resolved"

RESPONSES: dict[int | str, dict[str, object]] = {
    200: openapi.json_body(
        Ignored, "A watchdog receiver's webhook whose Watchdog is resolved: no beat, nothing produced"
    ),
    202: openapi.json_body(Accepted, "Every alert was produced to Kafka and acknowledged"),
    400: openapi.problem("Malformed payload, unsupported version, or a label/annotation limit exceeded"),
    401: openapi.problem("No usable Authorization header (header form only)"),
    404: openapi.problem("No enabled Alertmanager integration has this key; nothing was produced"),
    408: openapi.BODY_TIMEOUT,
    413: openapi.problem("Body, alert count or normalised events over the configured limits"),
    415: openapi.problem("Content-Type is not JSON"),
    503: openapi.problem(
        "Kafka unavailable, too many requests in flight, or the integration over its rate limit; retry",
        openapi.RETRY_AFTER,
    ),
}


def _ingest(request: Request) -> Ingest:
    ingest: Ingest = request.app.state.ingest
    return ingest


@router.post(
    "/v1/alertmanager/{integration_key}",
    summary="Alertmanager webhook (key in the path)",
    status_code=202,
    response_model=None,
    responses=RESPONSES,
    openapi_extra=openapi.request_body(AlertmanagerWebhook, "application/json"),
)
async def alertmanager_webhook(integration_key: str, request: Request) -> Response:
    """Alertmanager ``webhook_config`` payload (version "4"): one alert event per alert."""
    ingest = _ingest(request)
    return await ingest.guarded(SOURCE, lambda: _accept(ingest, request, integration_key))


@router.post(
    "/v1/alertmanager",
    summary="Alertmanager webhook (key as Bearer token or Basic password)",
    status_code=202,
    response_model=None,
    responses=RESPONSES,
    openapi_extra={
        **openapi.request_body(AlertmanagerWebhook, "application/json"),
        "security": [{"bearerKey": []}, {"basicKey": []}],
    },
)
async def alertmanager_webhook_authorization(request: Request) -> Response:
    """The same intake, for Alertmanager's ``http_config`` bearer token or basic auth."""
    ingest = _ingest(request)

    async def handle() -> Response:
        return await _accept(ingest, request, key_from_authorization(request.headers.get("authorization")))

    return await ingest.guarded(SOURCE, handle)


def key_from_authorization(header: str | None) -> str:
    if not header:
        raise ApiProblem(401, "send the integration key as a Bearer token or a Basic password", reason="no_auth")
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ApiProblem(401, "the Basic credentials are not valid Base64 UTF-8", reason="bad_auth") from exc
        username, _, password = decoded.partition(":")
        if password or username:
            return password or username
    raise ApiProblem(401, "the Authorization header must be 'Bearer <key>' or 'Basic ...'", reason="bad_auth")


async def _accept(ingest: Ingest, request: Request, key: str) -> Response:
    integration = ingest.integration(key, IntegrationType.ALERTMANAGER)
    ingest.check_rate(integration)
    check_content_type(request, {"application/json"})
    body = await ingest.body(request)
    with ingest.admitted(integration):
        try:
            webhook = parse_webhook(body)
            if integration.watchdog:  # the Watchdog receiver: its webhooks say whether monitoring is alive
                response = await _watchdog(ingest, integration, webhook)
            else:
                response = await _alerts(ingest, integration, webhook)
        except InvalidPayload as exc:
            raise invalid(exc) from exc
    note_truncated(integration, webhook.truncated_alerts, len(webhook.alerts), webhook.group_key)
    return response


def note_truncated(integration: Integration, truncated: int, included: int, group_key: str) -> None:
    """Count and log the alerts a sender left out of its webhook (Alertmanager's ``max_alerts``, Grafana's "Max
    alerts"): they reach nobody, and the sender's ``truncatedAlerts`` is the only trace of them."""
    if truncated:
        TRUNCATED_ALERTS.labels(integration.id).inc(truncated)
        log.warning(
            "alertmanager_truncated_alerts",
            integration=integration.id,
            truncated_alerts=truncated,
            included_alerts=included,
            group_key=group_key[:256],
        )


async def _alerts(ingest: Ingest, integration: Integration, webhook: AlertmanagerWebhook) -> Response:
    events = normalise_webhook(
        webhook,
        integration_id=integration.id,
        bound_service=integration.service,
        received_at=ingest.clock.now(),
        limits=ingest.limits,
    )
    return _accepted(await ingest.publish(SOURCE, integration, events))


async def _watchdog(ingest: Ingest, integration: Integration, webhook: AlertmanagerWebhook) -> Response:
    """A firing Watchdog is one beat. A resolved one is what Alertmanager sends when Prometheus stopped evaluating
    it -- monitoring is down, the opposite of a beat -- so nothing is produced and the missing beats page. It is
    answered 2xx all the same: a retry would say the same thing."""
    if not any(alert.status == "firing" for alert in webhook.alerts):
        ALERTMANAGER_IGNORED.labels(integration.id, WATCHDOG_RESOLVED).inc()
        log.warning("watchdog_resolved_ignored", integration=integration.id, group_key=webhook.group_key[:256])
        return json_response(200, {"status": "ignored", "reason": WATCHDOG_RESOLVED, "events": []})
    received_at = ingest.clock.now()
    return _accepted(
        await ingest.publish(SOURCE, integration, [beat(integration.id, integration.service, received_at)])
    )


def _accepted(refs: list[EventRef]) -> Response:
    return json_response(202, {"status": "accepted", "events": [ref.__dict__ for ref in refs]})
