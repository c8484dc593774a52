"""``GET /v1/config``: which configuration version this worker serves, so an operator sees when every ingest
worker and router process has converged after a change. It names no integration and no error text (ingest faces
senders without a login): the reasons of a refused configuration are in the log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alertrouter_ingest.api import openapi
from alertrouter_ingest.api.problems import json_response
from alertrouter_ingest.api.schemas import ConfigInForce
from alertrouter_ingest.intake import Ingest

router = APIRouter(tags=["Operations"])


@router.get(
    "/v1/config",
    summary="The configuration version this worker serves",
    responses={200: openapi.json_body(ConfigInForce, "The version in force and when it was loaded")},
)
async def config_in_force(request: Request) -> Response:
    ingest: Ingest = request.app.state.ingest
    config = ingest.config
    body = ConfigInForce(
        source_version=config.source_version,
        loaded_at=config.loaded_at.isoformat(),
        integrations=len(config.registry),
        last_reload_rejected_at=None if config.rejected_at is None else config.rejected_at.isoformat(),
        last_reload_errors=config.rejected_errors,
    )
    return json_response(200, body.model_dump())
