"""``POST /v2/enqueue``: the PagerDuty Events API v2, on the same path, so a client only changes the host.

202 and 400 bodies are PagerDuty's; 429 uses PagerDuty's "throttle event" status. An unknown routing key is a
404 problem (the project's contract for unknown integration keys) and nothing is produced. Acknowledge and
resolve events for dedup keys never seen are accepted and recorded like PagerDuty does (202).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alertrouter_ingest.api import openapi
from alertrouter_ingest.api.problems import ApiProblem, PagerDutyProblem, json_response
from alertrouter_ingest.api.schemas import EnqueueEvent, EnqueueInvalid, EnqueueSuccess, EnqueueThrottled
from alertrouter_ingest.intake import Ingest
from alertrouter_ingest.integrations import Integration
from alertrouter_ingest.protection import check_content_type
from alertrouter_ingest.sources.errors import InvalidPayload
from alertrouter_ingest.sources.events_v2 import (
    EventRejected,
    new_dedup_key,
    normalise_event,
    parse_event,
    rejection_body,
    success_body,
)
from alertrouter_shared.integrations import IntegrationType

router = APIRouter(tags=["PagerDuty Events API v2"])
SOURCE = "events_v2"

RESPONSES: dict[int | str, dict[str, object]] = {
    202: openapi.json_body(EnqueueSuccess, "The event was produced to Kafka and acknowledged"),
    400: openapi.json_body(EnqueueInvalid, "The event is invalid; every problem is listed"),
    404: openapi.problem("No enabled events_v2 integration has this routing_key; nothing was produced"),
    408: openapi.BODY_TIMEOUT,
    413: openapi.problem("The body is over the size limit (512 KB by default)"),
    415: openapi.problem("Content-Type is not JSON"),
    429: openapi.json_body(EnqueueThrottled, "The integration is over its rate limit", openapi.RETRY_AFTER),
    503: openapi.problem("Kafka unavailable or too many requests in flight; retry", openapi.RETRY_AFTER),
}


@router.post(
    "/v2/enqueue",
    summary="Send an event (PagerDuty Events API v2 compatible)",
    status_code=202,
    response_model=None,
    responses=RESPONSES,
    openapi_extra=openapi.request_body(EnqueueEvent, "application/json"),
)
async def enqueue(request: Request) -> Response:
    """Trigger, acknowledge or resolve the alert identified by (routing_key, dedup_key)."""
    ingest: Ingest = request.app.state.ingest
    return await ingest.guarded(SOURCE, lambda: _accept(ingest, request))


async def _accept(ingest: Ingest, request: Request) -> Response:
    event, integration = await read_routed(ingest, request, parse_event)
    with ingest.admitted(integration):
        dedup_key = event.dedup_key or new_dedup_key()
        try:
            alert = normalise_event(
                event,
                dedup_key=dedup_key,
                integration_id=integration.id,
                bound_service=integration.service,
                received_at=ingest.clock.now(),
                limits=ingest.limits,
            )
        except InvalidPayload as exc:
            raise PagerDutyProblem(400, rejection_body([exc.detail]), reason=exc.reason) from exc
        await ingest.publish(SOURCE, integration, [alert])
    return json_response(202, success_body(dedup_key))


class RoutedBody(Protocol):
    @property
    def routing_key(self) -> str: ...


B = TypeVar("B", bound=RoutedBody)


async def read_routed(ingest: Ingest, request: Request, parse: Callable[[bytes], B]) -> tuple[B, Integration]:
    """What PagerDuty's two intakes share: a JSON body parsed with PagerDuty's 400 answer, the events_v2
    integration its routing_key names (404 when none), and the integration's rate limit (PagerDuty's 429)."""
    check_content_type(request, {"application/json"})
    body = await ingest.body(request)
    try:
        parsed = parse(body)
    except EventRejected as exc:
        if exc.routing_key is not None:
            ingest.identify(exc.routing_key, IntegrationType.EVENTS_V2)
        raise PagerDutyProblem(400, rejection_body(exc.errors), reason="invalid_event") from exc
    integration = ingest.integration(parsed.routing_key, IntegrationType.EVENTS_V2)
    check_pagerduty_rate(ingest, integration)
    return parsed, integration


def check_pagerduty_rate(ingest: Ingest, integration: Integration) -> None:
    """The rate limit, refused with PagerDuty's "throttle event" body (429)."""
    try:
        ingest.check_rate(integration, status=429)
    except ApiProblem as exc:
        body_429 = {
            "status": "throttle event",
            "message": "Requests for this integration are arriving too quickly. Please retry later.",
            "errors": [exc.detail],
        }
        raise PagerDutyProblem(429, body_429, reason=exc.reason, retry_after=exc.retry_after) from exc
