"""The router's OpenAPI document against the running router: it validates, declares the bearer scheme on every
/v1 operation and a shape (never a bare object) for every success, and a representative call of every
documented operation answers exactly what the document says (status, content type, JSON Schema), errors
included. A route added later fails ``test_every_operation_answers_as_documented`` until a call of it is added."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from tests.openapi_contract import Contract, check_document, check_unknown_routes
from tests.router.access_support import client_for, new_token, open_incident


@pytest.fixture
async def contract(api: httpx.AsyncClient) -> Contract:
    document = (await api.get("/openapi.json")).json()
    check_document(document)
    return Contract(document)


async def test_the_document_describes_errors_as_problems(contract: Contract) -> None:
    assert "HTTPValidationError" not in contract.document["components"]["schemas"]
    bearer = contract.document["components"]["securitySchemes"]["bearerToken"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert "security" not in contract.document["paths"]["/calendar/{secret}.ics"]["get"]  # the path is the key
    acknowledge = contract.document["paths"]["/v1/incidents/{incident_id}/acknowledge"]["post"]
    assert set(acknowledge["responses"]) == {"200", "401", "403", "404", "408", "413", "422"}  # 408, 413: a body
    assert acknowledge["responses"]["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    }
    reload_rejected = contract.document["paths"]["/v1/config/reload"]["post"]["responses"]["422"]["content"]
    assert reload_rejected["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/ConfigRejected"}


async def test_the_maintenance_list_documents_its_include_ended_parameter(contract: Contract) -> None:
    """Windows that are over are left out unless asked for: a client learns how to ask from the document."""
    operation = contract.document["paths"]["/v1/services/{service_id}/maintenance"]["get"]
    parameter = next((p for p in operation.get("parameters", []) if p["name"] == "include_ended"), None)
    assert parameter is not None, operation.get("parameters")
    assert (parameter["in"], parameter["required"]) == ("query", False)
    assert (parameter["schema"]["type"], parameter["schema"]["default"]) == ("boolean", False)
    assert "past their end, or ended early" in parameter["description"]


async def test_every_operation_answers_as_documented(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    router_clock: OffsetClock,
    contract: Contract,
    unique: str,
) -> None:
    check = contract.check
    for path in ("/healthz", "/readyz", "/metrics", "/v1/services", "/v1/teams", "/v1/heartbeats", "/v1/config"):
        check(await api.get(path))
    check(await api.get("/v1/oncall", params={"service": "checkout"}))
    check(await api.get("/v1/oncall", params={"team": "payments"}))
    check(await api.get("/v1/services/checkout"))
    check(await api.get("/v1/schedules/payments-primary/shifts"))
    check(await api.get("/v1/schedules/payments-primary/calendar.ics"))
    check(await api.get("/v1/users/alice/calendar.ics"))
    check(await api.post("/v1/route/preview", json={"labels": {"service": "checkout", "severity": "critical"}}))
    check(await api.post("/v1/config/reload"))

    incident = await open_incident(api, producer, "checkout", f"am:test-am:{unique}")
    await _incidents_and_decisions(api, contract, incident)
    for action, body in (
        ("notes", {"note": "looking"}),
        ("reassign", {"user": "carol"}),
        ("responders", {"schedule": "payments-primary"}),
        ("escalate", {}),
        ("snooze", {"minutes": 30}),
        ("acknowledge", {}),
        ("resolve", {}),
    ):
        check(await api.post(f"/v1/incidents/{incident}/{action}", json=body))
    check(await api.post(f"/v1/incidents/{incident}/acknowledge", json={}))  # changed nothing

    later = router_clock.now() + timedelta(days=200)  # far ahead: nothing the other tests page is affected
    window = {"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=1)).isoformat(), "reason": "x"}
    created = check(await api.post("/v1/services/checkout/maintenance", json=window)).json()
    check(await api.get("/v1/services/checkout/maintenance"))
    check(await api.get("/v1/services/checkout/maintenance", params={"include_ended": "true"}))
    check(await api.delete(f"/v1/services/checkout/maintenance/{created['id']}"))

    cover = {"user": "carol", "start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()}
    override = check(await api.post("/v1/schedules/payments-primary/overrides", json=cover)).json()
    check(await api.get("/v1/schedules/payments-primary/overrides"))
    check(await api.delete(f"/v1/schedules/payments-primary/overrides/{override['id']}"))

    drill = check(await api.post("/v1/services/checkout/drills", json={"silent": True}))
    assert drill.status_code == 201
    check(await api.post("/v1/services/checkout/drills", json={"silent": True}))
    runs = check(await api.get("/v1/services/checkout/drills", params={"limit": 1})).json()
    check(await api.get("/v1/services/checkout/drills", params={"limit": 1, "cursor": runs["next_cursor"]}))
    check(await api.get(f"/v1/drills/{drill.json()['id']}"))

    versions = check(await api.get("/v1/config/versions", params={"limit": 1})).json()
    check(await api.get(f"/v1/config/versions/{versions['items'][0]['version']}/diff/current"))
    check(await api.get("/v1/reports/oncall", params={"team": "payments"}))

    secret = await new_token(api, user="bob", role="viewer")
    listed = check(await api.get("/v1/tokens")).json()
    bobs = next(t for t in listed["items"] if t["user_id"] == "bob" and t["role"] == "viewer")
    feed = check(await api.post("/v1/calendar-feeds", json={"schedule": "payments-primary"})).json()
    check(await api.get("/v1/calendar-feeds"))
    check(await api.get(feed["url"]))
    check(await api.delete(f"/v1/calendar-feeds/{feed['id']}"))
    async with client_for(router, secret) as viewer:
        forbidden = check(await viewer.post("/v1/config/reload"))
        assert forbidden.status_code == 403
    check(await api.delete(f"/v1/tokens/{bobs['id']}"))
    check(await api.post("/v1/tokens", json={"client": f"contract-{unique}", "role": "viewer"}))

    page = check(await api.get("/v1/audit", params={"limit": 1})).json()
    check(await api.get("/v1/audit", params={"limit": 1, "cursor": page["next_cursor"]}))

    await _errors(router, api, contract)
    assert contract.uncovered() == [], "operations without a checked call: add one here"


async def _incidents_and_decisions(api: httpx.AsyncClient, contract: Contract, incident: str) -> None:
    check = contract.check
    page = check(await api.get("/v1/incidents", params={"limit": 1})).json()
    check(await api.get("/v1/incidents", params={"limit": 1, "cursor": page["next_cursor"]}))
    check(await api.get(f"/v1/incidents/{incident}"))
    decisions = check(await api.get("/v1/decisions", params={"limit": 1})).json()
    check(await api.get("/v1/decisions", params={"limit": 1, "cursor": decisions["next_cursor"]}))
    decision = decisions["items"][0]["id"]
    check(await api.get(f"/v1/decisions/{decision}"))
    check(await api.get(f"/v1/decisions/{decision}/explain"))


async def _errors(router: RouterRuntime, api: httpx.AsyncClient, contract: Contract) -> None:
    """Each kind of refusal, as documented: problem+json with the documented schema."""
    check = contract.check
    async with client_for(router, "not-a-token") as stranger:
        assert check(await stranger.get("/v1/incidents")).status_code == 401
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        assert check(await anonymous.get("/v1/incidents")).status_code == 401
        await check_unknown_routes(anonymous, contract)
    assert check(await api.get("/v1/incidents/no-such-incident")).status_code == 404
    invalid = check(await api.get("/v1/incidents", params={"limit": 0}))
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "query.limit"
    for listing in ("/v1/incidents", "/v1/decisions", "/v1/audit", "/v1/services/checkout/drills"):
        assert check(await api.get(listing, params={"cursor": "bm9wZQ"})).status_code == 422
    missing = check(await api.post("/v1/services/checkout/maintenance", json={"reason": "no end"}))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.ends_at"
    over = b"{" + b" " * router.state.settings.max_body_bytes  # ROUTER_MAX_BODY_BYTES: every body is bounded
    too_large = check(await api.post("/v1/route/preview", content=over, headers={"content-type": "application/json"}))
    assert too_large.status_code == 413 and "larger than the limit" in too_large.json()["detail"]
