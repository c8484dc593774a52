"""Liveness, readiness and metrics endpoints of the router's API and consumer processes: ready when the database
and Kafka answer and a configuration is in force."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from alertrouter_router.state import RouterState
from alertrouter_shared.kafka import kafka_reachable
from alertrouter_shared.web.readiness import database_reachable, health_routes, run_checks


async def _kafka_usable(state: RouterState) -> bool:
    """Reached at start (topics, producer: ``RouterRuntime.start`` retries while Kafka is away) and reachable now."""
    return state.started.is_set() and await kafka_reachable(state.settings)


async def _checks(request: Request) -> dict[str, Any]:
    state = request.app.state.router
    found = await run_checks({"database": database_reachable(state.engine), "kafka": _kafka_usable(state)})
    return {**found, "config": state.configs.current is not None}


router = health_routes(_checks)
