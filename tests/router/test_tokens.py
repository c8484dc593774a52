"""API tokens: created through the API and the service's CLI (shown once, stored hashed), listed, revoked,
expiring; bootstrap entries keep working; a person's token acts as that person."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.auth import hash_token
from alertrouter_shared.clock import OffsetClock
from tests.router.access_support import client_for, new_token, open_incident
from tests.router.conftest import CONFIG


async def test_a_token_is_shown_once_stored_hashed_and_records_its_last_use(
    router: RouterRuntime, api: httpx.AsyncClient, router_database_url: str
) -> None:
    created = await api.post("/v1/tokens", json={"user": "bob", "role": "responder", "description": "laptop"})
    assert created.status_code == 201
    body = created.json()
    secret = body["token"]
    assert secret.startswith("art_") and len(secret) > 40
    assert body["user_id"] == "bob" and body["role"] == "responder" and body["last_used_at"] is None
    assert body["created_by"].startswith("client:bootstrap-")  # the configured admin entry made it
    listed = (await api.get("/v1/tokens")).json()["items"]
    mine = next(t for t in listed if t["id"] == body["id"])
    assert "token" not in mine and "digest" not in mine
    conn = await asyncpg.connect(**connect_arguments(router_database_url))
    try:
        stored = await conn.fetchval("SELECT digest FROM router_api_token WHERE id = $1", body["id"])
    finally:
        await conn.close()
    assert stored == hash_token(secret) and secret not in stored
    async with client_for(router, secret) as bob:
        assert (await bob.get("/v1/incidents")).status_code == 200
        forbidden = await bob.get("/v1/tokens")
        assert forbidden.status_code == 403
        assert forbidden.json()["detail"] == (
            "user bob (responder; teams: payments) may not list API tokens: that needs the admin role"
        )
    listed = (await api.get("/v1/tokens")).json()["items"]
    assert next(t for t in listed if t["id"] == body["id"])["last_used_at"] is not None


async def test_a_revoked_token_is_refused_and_the_revocation_is_audited(
    router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    created = (await api.post("/v1/tokens", json={"client": "ci-bot", "role": "viewer"})).json()
    async with client_for(router, created["token"]) as bot:
        assert (await bot.get("/v1/services")).status_code == 200
        revoked = await api.delete(f"/v1/tokens/{created['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        refused = await bot.get("/v1/services")
        assert refused.status_code == 401 and refused.json()["detail"] == "the API token was revoked"
    assert created["id"] not in {t["id"] for t in (await api.get("/v1/tokens")).json()["items"]}
    assert created["id"] in {t["id"] for t in (await api.get("/v1/tokens?include_revoked=true")).json()["items"]}
    trail = (await api.get("/v1/audit", params={"target_id": created["id"]})).json()["items"]
    assert [e["action"] for e in trail] == ["token.revoke", "token.create"]
    assert trail[0]["before"]["revoked_at"] is None and trail[0]["after"]["revoked_at"] is not None
    assert (await api.delete("/v1/tokens/no-such-token")).status_code == 404


async def test_an_expired_token_is_refused(
    router: RouterRuntime, api: httpx.AsyncClient, router_clock: OffsetClock
) -> None:
    expires = (router_clock.now() + timedelta(minutes=1)).isoformat()
    secret = await new_token(api, client="short-lived", role="viewer", expires_at=expires)
    async with client_for(router, secret) as short:
        assert (await short.get("/v1/teams")).status_code == 200
        router_clock.advance(timedelta(minutes=1, seconds=1))
        refused = await short.get("/v1/teams")
    assert refused.status_code == 401 and refused.json()["detail"] == "the API token has expired"


async def test_tokens_belong_to_a_configured_user_or_a_machine_client(api: httpx.AsyncClient) -> None:
    cases = [
        ({"user": "mallory", "role": "admin"}, "user 'mallory' is not in the ownership configuration"),
        ({"user": "bob", "client": "x", "role": "viewer"}, "exactly one of a user or a machine client"),
        ({"role": "viewer"}, "exactly one of a user or a machine client"),
        ({"user": "bob", "role": "responder", "act_as": True}, "only machine clients may act as someone else"),
    ]
    for body, why in cases:
        response = await api.post("/v1/tokens", json=body)
        assert response.status_code == 422 and why in response.json()["detail"], response.text
    assert (await api.post("/v1/tokens", json={"client": "x", "role": "root"})).status_code == 422


async def test_a_person_acts_as_themselves_and_only_act_as_clients_may_name_someone_else(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    incident = await open_incident(api, producer, "checkout", f"am:test-am:{unique}")
    secret = await new_token(api, user="bob", role="responder")
    relay = await new_token(api, client="relay", role="admin")  # no act_as
    async with client_for(router, secret) as bob, client_for(router, relay) as plain:
        impersonating = await bob.post(f"/v1/incidents/{incident}/acknowledge", json={"by": "alice"})
        assert impersonating.status_code == 403
        assert "may not act as 'alice'" in impersonating.json()["detail"]
        refused = await plain.post(f"/v1/incidents/{incident}/acknowledge", json={"by": "alice"})
        assert refused.status_code == 403
        acked = await bob.post(f"/v1/incidents/{incident}/acknowledge", json={"note": "on it"})
    assert acked.status_code == 200 and acked.json()["by"] == "bob"
    shown = (await api.get(f"/v1/incidents/{incident}")).json()
    assert shown["incident"]["acknowledged_by"] == "bob"
    assert any(e.get("reason") == "acknowledged by bob: on it" for e in shown["timeline"])
    # the bootstrap admin entry (the notifier's kind of token) relays who pressed the button
    relayed = await api.post(f"/v1/incidents/{incident}/resolve", json={"by": "alice"})
    assert relayed.status_code == 200 and relayed.json()["by"] == "alice"
    [resolve, ack] = (await api.get("/v1/audit", params={"target_id": incident}, headers={})).json()["items"][:2]
    assert resolve["action"] == "incident.resolve" and resolve["actor"].startswith("client:bootstrap-")
    assert resolve["after"]["on_behalf_of"] == "alice" and resolve["after"]["status"] == "resolved"
    assert ack["actor"] == "bob" and ack["before"]["status"] == "triggered" and ack["after"]["note"] == "on it"


async def _cli(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "ALERTROUTER_CONFIG": str(CONFIG), "LOG_FORMAT": "console"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alertrouter_router",
        "token",
        "create",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode()


async def test_the_cli_creates_a_token_that_acts_as_its_user(
    router: RouterRuntime, api: httpx.AsyncClient, router_database_url: str
) -> None:
    code, secret, err = await _cli(router_database_url, "--user", "alice", "--role", "team_admin")
    assert code == 0, err
    assert secret.startswith("art_") and "alice" in err and secret not in err
    async with client_for(router, secret) as alice:
        window = await alice.post(
            "/v1/services/checkout/maintenance",
            json={"starts_at": "2090-01-01T00:00:00Z", "ends_at": "2090-01-01T01:00:00Z", "reason": "cli test"},
        )
        assert window.status_code == 201 and window.json()["created_by"] == "alice"
        other_team = await alice.post(
            "/v1/services/ledger/maintenance", json={"ends_at": "2090-01-01T01:00:00Z", "reason": "not mine"}
        )
        assert other_team.status_code == 403 and "team platform" in other_team.json()["detail"]
    [entry] = (await api.get("/v1/audit", params={"target_id": window.json()["id"]})).json()["items"]
    assert entry["action"] == "maintenance.create" and entry["actor"] == "alice" and entry["team_id"] == "payments"
    trail = (await api.get("/v1/audit", params={"actor": "client:cli", "action": "token.create"})).json()["items"]
    assert trail and trail[0]["after"]["user_id"] == "alice"


async def test_the_cli_refuses_unknown_users_and_roles(router_database_url: str) -> None:
    code, out, err = await _cli(router_database_url, "--user", "mallory")
    assert code == 2 and out == "" and "'mallory' is not in the ownership configuration" in err
    code, out, err = await _cli(router_database_url, "--client", "x", "--role", "root")
    assert code == 2 and out == "" and "role must be one of viewer, responder, team_admin, admin" in err
