"""``POST /v1/heartbeats/{integration_key}``: a heartbeat beat (a cron job, a batch run, a pipeline says "alive").

The router expects the next beat within the integration's interval plus grace; when it does not come, the owning
service gets an incident "monitoring for … has gone silent", which the next beat resolves. Any body (or none) is
accepted up to the size limit and not read further.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alertrouter_ingest.api import openapi
from alertrouter_ingest.api.problems import json_response
from alertrouter_ingest.api.schemas import Accepted
from alertrouter_ingest.intake import Ingest
from alertrouter_ingest.sources.heartbeat import beat
from alertrouter_shared.integrations import IntegrationType

router = APIRouter(tags=["Heartbeats"])
SOURCE = "heartbeat"

RESPONSES: dict[int | str, dict[str, object]] = {
    202: openapi.json_body(Accepted, "The beat was produced to Kafka and acknowledged"),
    404: openapi.problem("No enabled heartbeat integration has this key; nothing was produced"),
    408: openapi.BODY_TIMEOUT,
    413: openapi.problem("Body over the configured limit"),
    429: openapi.problem("The integration is over its rate limit", openapi.RETRY_AFTER),
    503: openapi.problem("Kafka unavailable or too many requests in flight; retry", openapi.RETRY_AFTER),
}


@router.post(
    "/v1/heartbeats/{integration_key}",
    summary="A heartbeat beat",
    status_code=202,
    response_model=None,
    responses=RESPONSES,
)
async def heartbeat(integration_key: str, request: Request) -> Response:
    """One beat of a heartbeat integration: monitoring (or the job) is alive."""
    ingest: Ingest = request.app.state.ingest
    return await ingest.guarded(SOURCE, lambda: _accept(ingest, request, integration_key))


async def _accept(ingest: Ingest, request: Request, key: str) -> Response:
    integration = ingest.integration(key, IntegrationType.HEARTBEAT)
    ingest.check_rate(integration, status=429)
    await ingest.body(request)
    with ingest.admitted(integration):
        refs = await ingest.publish(
            SOURCE, integration, [beat(integration.id, integration.service, ingest.clock.now())]
        )
    return json_response(202, {"status": "accepted", "events": [ref.__dict__ for ref in refs]})
