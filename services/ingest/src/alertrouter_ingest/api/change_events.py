"""``POST /v2/change/enqueue``: PagerDuty change events, on PagerDuty's path with PagerDuty's answers.

A change event (a deploy, a configuration change) is recorded for the service of the events_v2 integration whose
key is the ``routing_key`` and shown in the timeline of that service's incidents; it never pages. 202 and 400 bodies
are PagerDuty's; an unknown routing key is a 404 problem, as on /v2/enqueue.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alertrouter_ingest.api import openapi
from alertrouter_ingest.api.events_v2 import read_routed
from alertrouter_ingest.api.problems import PagerDutyProblem, json_response
from alertrouter_ingest.api.schemas import ChangeEnqueueEvent, ChangeEnqueueSuccess, EnqueueInvalid, EnqueueThrottled
from alertrouter_ingest.intake import Ingest
from alertrouter_ingest.sources.change_events import SUCCESS, change_event, parse_change
from alertrouter_ingest.sources.events_v2 import EventRejected, rejection_body

router = APIRouter(tags=["PagerDuty Events API v2"])
SOURCE = "change_events"

RESPONSES: dict[int | str, dict[str, object]] = {
    202: openapi.json_body(ChangeEnqueueSuccess, "The change event was produced to Kafka and acknowledged"),
    400: openapi.json_body(EnqueueInvalid, "The change event is invalid, or its integration has no service"),
    404: openapi.problem("No enabled events_v2 integration has this routing_key; nothing was produced"),
    408: openapi.BODY_TIMEOUT,
    413: openapi.problem("The body is over the size limit"),
    415: openapi.problem("Content-Type is not JSON"),
    429: openapi.json_body(EnqueueThrottled, "The integration is over its rate limit", openapi.RETRY_AFTER),
    503: openapi.problem("Kafka unavailable or too many requests in flight; retry", openapi.RETRY_AFTER),
}


@router.post(
    "/v2/change/enqueue",
    summary="Send a change event (PagerDuty Events API v2 compatible)",
    status_code=202,
    response_model=None,
    responses=RESPONSES,
    openapi_extra=openapi.request_body(ChangeEnqueueEvent, "application/json"),
)
async def change_enqueue(request: Request) -> Response:
    """Record a change to the integration's service, shown beside that service's incidents."""
    ingest: Ingest = request.app.state.ingest
    return await ingest.guarded(SOURCE, lambda: _accept(ingest, request))


async def _accept(ingest: Ingest, request: Request) -> Response:
    change, integration = await read_routed(ingest, request, parse_change)
    if integration.service is None:
        problem = "This routing_key's integration is not bound to a service; change events are recorded per service"
        raise PagerDutyProblem(400, rejection_body([problem]), reason="unbound_integration")
    with ingest.admitted(integration):
        try:
            event = change_event(
                change, integration_id=integration.id, service_id=integration.service, received_at=ingest.clock.now()
            )
        except EventRejected as exc:
            raise PagerDutyProblem(400, rejection_body(exc.errors), reason="unrepresentable") from exc
        await ingest.publish_change(integration, event)
    return json_response(202, SUCCESS)
