"""``/healthz`` (the process answers), ``/readyz`` (Kafka usable for real) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from alertrouter_ingest.api import openapi
from alertrouter_ingest.api.problems import json_response
from alertrouter_ingest.intake import Ingest
from alertrouter_ingest.process_metrics import metrics_body
from alertrouter_shared.web.errors import problem_response

router = APIRouter(tags=["Operations"])


HEALTHY = {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
READY = {
    "type": "object",
    "properties": {"status": {"const": "ready"}, "integrations": {"type": "integer"}},
    "required": ["status", "integrations"],
}


@router.get(
    "/healthz",
    summary="Liveness",
    responses={200: {"description": "The process is serving", "content": {"application/json": {"schema": HEALTHY}}}},
)
async def healthz() -> Response:
    return json_response(200, {"status": "ok"})


@router.get(
    "/readyz",
    summary="Readiness: Kafka reachable and acknowledging",
    responses={
        200: {"description": "Ready to accept alerts", "content": {"application/json": {"schema": READY}}},
        503: openapi.problem("Kafka is not reachable or did not acknowledge a recent batch", openapi.RETRY_AFTER),
    },
)
async def readyz(request: Request) -> Response:
    ingest: Ingest = request.app.state.ingest
    ready, reason = await ingest.publisher.ready()
    if not ready:
        return problem_response(503, reason, {"Retry-After": str(ingest.settings.retry_after_seconds)})
    return json_response(200, {"status": "ready", "integrations": len(ingest.registry)})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def metrics() -> Response:
    body, content_type = metrics_body()
    return Response(content=body, media_type=content_type)
