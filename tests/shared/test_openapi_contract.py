"""The shared API pieces on their own: the opaque cursor, the error side of the OpenAPI document, unknown routes
of every service as problem+json (ingest here; router and notifier in their contract tests), and the contract
checker itself (it must fail on an answer its document does not describe)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel

from alertrouter_ingest.app import create_app as create_ingest
from alertrouter_ingest.settings import IngestSettings
from alertrouter_shared.cursors import InvalidCursor, encode_cursor, instant_id_after, seq_after
from alertrouter_shared.web.bearer import BEARER
from alertrouter_shared.web.errors import install_problem_handlers
from alertrouter_shared.web.openapi import document_problems
from tests.ingest.conftest import CONFIG
from tests.openapi_contract import Contract, check_document, check_unknown_routes


def test_a_cursor_round_trips_and_refuses_what_it_did_not_make() -> None:
    at = datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC)
    assert instant_id_after("incidents", encode_cursor("incidents", at, "b-2")) == (at, "b-2")
    assert seq_after("audit", encode_cursor("audit", 42)) == 42
    for foreign in (
        encode_cursor("audit", 42)[:-2],  # cut
        encode_cursor("decisions", 42),  # another list's
        encode_cursor("audit", "42"),  # a string where the list keeps a number
        encode_cursor("audit", 42, 43),
        "bm9wZQ",
        "%%%",
        "",
    ):
        with pytest.raises(InvalidCursor):
            seq_after("audit", foreign)
    with pytest.raises(InvalidCursor):
        instant_id_after("incidents", encode_cursor("incidents", "2026-03-29", "x"))


class Thing(BaseModel):
    name: str


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    document_problems(app)

    @app.get("/v1/things/{thing_id}", response_model=Thing, dependencies=[Depends(BEARER)])
    async def thing(thing_id: str, limit: int = 1) -> dict[str, Any]:
        if thing_id == "missing":
            raise HTTPException(404, "no such thing")
        if thing_id == "database-restarted":
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        return {"name": thing_id} if thing_id != "wrong" else {"nom": thing_id}

    return app


async def test_errors_are_documented_and_answered_as_problems() -> None:
    app = _app()
    document = app.openapi()
    check_document(document)
    responses = document["paths"]["/v1/things/{thing_id}"]["get"]["responses"]
    assert set(responses) == {"200", "401", "403", "404", "422"}
    assert all(list(responses[s]["content"]) == ["application/problem+json"] for s in ("401", "403", "404", "422"))
    assert "HTTPValidationError" not in document["components"]["schemas"]
    contract = Contract(document)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        contract.check(await client.get("/v1/things/a"))
        assert contract.check(await client.get("/v1/things/missing")).json()["detail"] == "no such thing"
        invalid = contract.check(await client.get("/v1/things/a", params={"limit": "x"}))
        assert invalid.json()["errors"] == [{"field": "query.limit", "message": invalid.json()["errors"][0]["message"]}]
        await check_unknown_routes(client, contract)
        assert contract.uncovered() == []


async def _failing(path: str) -> httpx.Response:
    """The app's answer to a route that raises (the test client does not re-raise the app's exception)."""
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_an_answer_that_drifts_from_its_model_is_a_500_problem() -> None:
    drifted = await _failing("/v1/things/wrong")
    assert drifted.status_code == 500
    assert drifted.headers["content-type"] == "application/problem+json"
    assert drifted.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "internal error",
    }


async def test_a_dropped_database_connection_is_a_503_to_retry_not_a_500() -> None:
    answer = await _failing("/v1/things/database-restarted")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["content-type"] == "application/problem+json"


async def test_the_checker_fails_on_an_undocumented_answer() -> None:
    document = _app().openapi()
    contract = Contract(document)
    request = httpx.Request("GET", "http://t/v1/things/a")
    with pytest.raises(AssertionError, match="name"):
        contract.check(httpx.Response(200, json={"nom": "a"}, request=request))
    with pytest.raises(AssertionError, match="not documented"):
        contract.check(httpx.Response(409, json={}, request=request))
    with pytest.raises(AssertionError, match="undocumented"):
        contract.check(httpx.Response(200, json={}, request=httpx.Request("GET", "http://t/v1/other")))
    bare = {**document}
    bare["paths"] = {
        "/v1/x": {
            "get": {
                "responses": {
                    "200": {"description": "", "content": {"application/json": {"schema": {"type": "object"}}}}
                },
                "security": [{"bearerToken": []}],
            }
        }
    }
    with pytest.raises(AssertionError, match="bare object"):
        check_document(bare)
    assert Contract(bare).uncovered() == ["GET /v1/x"]


async def test_ingest_answers_unknown_routes_with_problems() -> None:
    app = create_ingest(IngestSettings(config_path=str(CONFIG)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as client:
        await check_unknown_routes(client, Contract(app.openapi()))
