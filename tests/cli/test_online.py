"""Online commands as a process against the real router (PostgreSQL and Kafka of the session).

Every JSON answer is compared with what the API itself returns, and every failure mode (unreachable, 401,
403, 404, no token) must be one ``error:`` line with its exit code and no traceback.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from alertrouter_router.runtime import RouterRuntime
from tests.cli.conftest import LABELLED, Ran, run_cli
from tests.helpers import eventually, free_port
from tests.router.conftest import READ_ONLY_TOKEN, TOKEN, alert_event, router_settings, send

pytestmark = [pytest.mark.db, pytest.mark.kafka]


def env_for(router: RouterRuntime, token: str = TOKEN) -> dict[str, str]:
    return {"ALERTROUTER_URL": f"http://127.0.0.1:{router.state.settings.port}", "ALERTROUTER_TOKEN": token}


async def cli(router: RouterRuntime, *args: str, token: str = TOKEN) -> Ran:
    ran = await run_cli(*args, env=env_for(router, token))
    assert "Traceback" not in ran.err + ran.out
    return ran


def failed(ran: Ran, code: int, needle: str) -> None:
    assert ran.code == code, ran
    assert ran.out == ""
    [line] = ran.err.strip().splitlines()
    assert line.startswith("error: ") and needle in line, line


async def test_oncall_json_is_the_api_answer_and_the_table_says_why(
    router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    at = "2026-07-01T12:00:00Z"
    expected = (await api.get("/v1/oncall", params={"service": "checkout", "at": at})).json()
    ran = await cli(router, "oncall", "checkout", "--at", at, "--json")
    assert ran.code == 0 and json.loads(ran.out) == expected
    table = await cli(router, "oncall", "checkout", "--at", at)
    lines = table.out.splitlines()
    assert lines[0] == "checkout: team payments, policy payments-default, at 2026-07-01 12:00 UTC"
    level_one = next(line for line in lines if line.startswith("1 "))
    assert level_one.split()[:2] == ["1", "alice"]
    assert "schedule payments-primary, layer weekly" in level_one and "webhook now, sms +2m" in level_one
    level_two = next(line for line in lines if line.startswith("2 "))
    assert "bob" in level_two and "user bob" in level_two


async def test_oncall_for_a_team(router: RouterRuntime, api: httpx.AsyncClient) -> None:
    expected = (await api.get("/v1/oncall", params={"team": "payments", "at": "2026-07-01T12:00:00Z"})).json()
    ran = await cli(router, "oncall", "--team", "payments", "--at", "2026-07-01T12:00:00Z", "--json")
    assert json.loads(ran.out) == expected
    table = await cli(router, "oncall", "-t", "payments", "--at", "2026-07-01T12:00:00Z")
    services = {line.split()[0] for line in table.out.splitlines()[2:] if line and not line.startswith("SERVICE")}
    assert services == {item["service"] for item in expected["services"]}


async def test_failures_are_one_line_with_their_exit_code(router: RouterRuntime) -> None:
    failed(await cli(router, "oncall", "nosuch"), 1, "404 Not Found: service 'nosuch' is not in configuration")
    failed(await cli(router, "oncall", "checkout", token="wrong"), 4, "401 unauthorised")
    failed(
        await cli(router, "ack", "some-incident", token=READ_ONLY_TOKEN),
        4,
        "may not acknowledge incidents: that needs the responder role",  # a read-only entry is a viewer
    )
    failed(await cli(router, "oncall"), 2, "give a SERVICE or --team TEAM")  # a usage error, as typer's own
    failed(
        await cli(router, "incidents", "--status", "bogus"), 1, "422 Unprocessable Entity: query.status: String should"
    )
    failed(await cli(router, "oncall", "checkout", "--at", "2026-07-01T12:00:00"), 1, "has no UTC offset")
    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = await run_cli("incidents", env={"ALERTROUTER_URL": closed, "ALERTROUTER_TOKEN": TOKEN})
    failed(unreachable, 3, f"cannot reach the router API at {closed}")
    no_token = await run_cli("incidents", env={"ALERTROUTER_URL": env_for(router)["ALERTROUTER_URL"]})
    failed(no_token, 4, "no API token: set ALERTROUTER_TOKEN")


async def test_settings_from_the_configuration_file(router: RouterRuntime, tmp_path: Any) -> None:
    settings = tmp_path / "cli.toml"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    url = env_for(router)["ALERTROUTER_URL"]
    settings.write_text(f'url = "{url}"\ntoken_file = "{token_file}"\n', encoding="utf-8")
    ran = await run_cli("oncall", "checkout", "--json", env={"ALERTROUTER_CLI_CONFIG": str(settings)})
    assert ran.code == 0 and json.loads(ran.out)["service"] == "checkout"
    settings.write_text('url = "http://x"\ntokn = "typo"\n', encoding="utf-8")
    failed(await run_cli("incidents", env={"ALERTROUTER_CLI_CONFIG": str(settings)}), 1, "tokn: Extra inputs")


async def open_incident(api: httpx.AsyncClient, producer: AIOKafkaProducer, key: str) -> dict[str, Any]:
    await send(producer, alert_event(key, {"service": "checkout", "alertname": "CliTest"}))

    async def probe() -> dict[str, Any] | None:
        items = (await api.get("/v1/incidents", params={"service": "checkout", "status": "open", "limit": 500})).json()
        return next((item for item in items["items"] if item["dedup_key"] == key), None)

    return await eventually(probe, what=f"an incident for {key}")


async def test_incidents_why_ack_and_resolve(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    key = f"cli-{unique}"
    incident = await open_incident(api, producer, key)
    listed = await cli(router, "incidents", "--service", "checkout", "--status", "open", "--limit", "500", "--json")
    assert incident["id"] in {item["id"] for item in json.loads(listed.out)["items"]}
    table = await cli(router, "incidents", "--team", "payments", "--status", "open", "--limit", "500")
    row = next(line for line in table.out.splitlines() if line.startswith(incident["id"]))
    assert row.split()[1:4] == ["triggered", "checkout", "payments"]

    decisions = (await api.get("/v1/decisions", params={"dedup_key": key})).json()["items"]
    explained = (await api.get(f"/v1/decisions/{decisions[0]['id']}/explain")).text
    why = await cli(router, "why", "--key", key)
    assert why.code == 0 and why.out.strip() == explained.strip() and "checkout" in why.out
    by_id = await cli(router, "why", decisions[0]["id"], "--json")
    assert json.loads(by_id.out)["id"] == decisions[0]["id"]
    failed(await cli(router, "why", "--key", f"none-{unique}"), 1, f"no decision for dedup key 'none-{unique}'")
    failed(await cli(router, "why"), 2, "give a DECISION id or --key DEDUP_KEY")

    # named as messages show it (the first eight hex digits, after a '#'): the one open incident starting so
    short = "#" + incident["id"].replace("-", "")[:8]
    acked = await cli(router, "ack", short, "--by", "carol", "--note", "looking")
    assert acked.out.strip() == f"incident {incident['id']} acknowledged by carol"
    state = (await api.get(f"/v1/incidents/{incident['id']}")).json()["incident"]
    assert (state["status"], state["acknowledged_by"]) == ("acknowledged", "carol")
    resolved = await run_cli("resolve", incident["id"], env={**env_for(router), "ALERTROUTER_USER": "bob"})
    assert resolved.out.strip() == f"incident {incident['id']} resolved by bob"
    again = await cli(router, "ack", incident["id"], "--json")
    assert json.loads(again.out) == {"incident": incident["id"], "status": "resolved", "changed": False}
    assert (await cli(router, "resolve", incident["id"])).out.strip() == (
        f"incident {incident['id']} was already resolved: nothing changed"
    )
    failed(await cli(router, "ack", "no-such-incident"), 1, "404 Not Found: incident 'no-such-incident' not found")
    # resolved now: its start names no open incident any more, and nothing is guessed
    failed(await cli(router, "ack", short), 1, f"no open incident's id starts with {short!r}")


async def test_ack_without_by_names_the_actor_the_api_recorded(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    """A machine token (make dev's dev-token) acts as its client id: the line must not say 'by you'."""
    incident = await open_incident(api, producer, f"cli-actor-{unique}")
    acked = await cli(router, "ack", incident["id"])
    state = (await api.get(f"/v1/incidents/{incident['id']}")).json()["incident"]
    assert state["acknowledged_by"].startswith("client:")
    assert acked.out.strip() == f"incident {incident['id']} acknowledged by {state['acknowledged_by']}"


async def test_maintenance_add_list_and_end(router: RouterRuntime, api: httpx.AsyncClient, unique: str) -> None:
    reason = f"cli test {unique}"
    added = await cli(router, "maintenance", "add", "storm", "--for", "6h", "--reason", reason, "--by", "cli", "--json")
    assert added.code == 0, added
    window = json.loads(added.out)
    listed = (await api.get("/v1/services/storm/maintenance")).json()["created"]
    mine = next(item for item in listed if item["id"] == window["id"])
    assert (mine["reason"], mine["created_by"]) == (reason, "cli")
    from datetime import UTC, datetime

    # --for is counted on this machine's clock (the router's clock may run ahead: the router suite advances it)
    ends_in = datetime.fromisoformat(mine["ends_at"]) - datetime.now(UTC)
    assert ends_in.total_seconds() == pytest.approx(6 * 3600, abs=30)
    table = await cli(router, "maintenance", "list", "storm")
    assert any(line.startswith(window["id"]) and reason in line for line in table.out.splitlines())
    ended = await cli(router, "maintenance", "end", "storm", window["id"])
    assert ended.out.strip() == f"maintenance window {window['id']} for storm ended"
    assert window["id"] not in {
        item["id"] for item in (await api.get("/v1/services/storm/maintenance")).json()["created"]
    }
    second = json.loads((await cli(router, "maintenance", "add", "storm", "--for", "7h", "--json")).out)
    try:  # two windows (one ended), a page of one: the table says how to read on, and the next page goes on
        first_page = await cli(router, "maintenance", "list", "storm", "--include-ended", "--limit", "1")
        assert first_page.code == 0, first_page
        assert "ACTIVE" in first_page.out.splitlines()[0]
        [more] = [line for line in first_page.out.splitlines() if line.startswith("more windows: add --cursor ")]
        seen, cursor = [], more.removeprefix("more windows: add --cursor ").split()[0]
        while cursor:
            page = json.loads((await cli(router, "maintenance", "list", "storm", "--include-ended", "--limit", "1",
                                         "--cursor", cursor, "--json")).out)  # fmt: skip
            seen += [w["id"] for w in page["created"]]
            cursor = page["next_cursor"]
        assert window["id"] in seen or window["id"] in first_page.out
        assert second["id"] in seen or second["id"] in first_page.out
    finally:
        await cli(router, "maintenance", "end", "storm", second["id"])
    failed(await cli(router, "maintenance", "add", "storm"), 2, "give --for DURATION or --until TIME")
    failed(
        await cli(router, "maintenance", "add", "nosuch", "--for", "1h"), 1, "404 Not Found: service 'nosuch' not found"
    )
    past = await cli(router, "maintenance", "add", "storm", "--until", "2000-01-01T00:00:00Z")
    failed(past, 1, "422")


@pytest.fixture(scope="module")
async def labelled_router(cli_kafka: str, cli_database_url: str) -> AsyncIterator[RouterRuntime]:
    """An API-only router (no consumers, no timers) on the service_from_label fixture: previews only."""
    runtime = RouterRuntime(router_settings(cli_kafka, cli_database_url, config_path=str(LABELLED)), consume=False)
    await runtime.start()
    yield runtime
    runtime.stop()
    await asyncio.wait_for(runtime.wait(), 30)


async def test_preview_and_route_test_show_the_service_label(labelled_router: RouterRuntime) -> None:
    base = f"http://127.0.0.1:{labelled_router.state.settings.port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"labels": {"service": "cart", "env": "production"}, "at": "2026-06-01T12:00:00Z"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        preview = (await client.post("/v1/route/preview", json=body)).json()
    expected_reason = (
        "rule 'production-by-service-label' took the service from label service='cart' (an alias of 'basket'): "
        "env != 'staging' (was 'production')"
    )
    route = preview["explanation"]["route"]
    assert (preview["service"], route["rule"], route["reason"]) == (
        "basket",
        "production-by-service-label",
        expected_reason,
    )
    assert route["matched"][0] == {"label": "service", "op": "service_from_label", "value": None, "actual": "cart"}
    offline = await run_cli("route", "test", "-c", str(LABELLED), "-l", "service=cart", "env=production", "--json")
    assert json.loads(offline.out)["route"]["reason"] == route["reason"]
    online = await cli(labelled_router, "oncall", "cart")
    failed(online, 1, "404 Not Found: service 'cart' is not in configuration")  # aliases name services in labels only


async def test_escalate_snooze_and_heartbeats(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    incident = await open_incident(api, producer, f"cli-esc-{unique}")
    escalated = await cli(router, "escalate", incident["id"], "--by", "carol")
    assert escalated.code == 0, escalated
    assert escalated.out.strip().startswith(f"incident {incident['id']} triggered: escalated by carol: paged level 2")
    snoozed = await cli(router, "snooze", incident["id"], "--minutes", "15", "--by", "carol", "--json")
    body = json.loads(snoozed.out)
    assert body["status"] == "acknowledged" and "paged again at" in body["reason"]
    # in words, as every time the CLI shows (UTC to the minute): it printed the reason's raw ISO instant
    again = await cli(router, "snooze", incident["id"], "--minutes", "20", "--by", "carol")
    assert again.code == 0 and re.fullmatch(
        rf"incident {incident['id']} acknowledged: snoozed by carol; "
        r"paged again at \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC unless resolved",
        again.out.strip(),
    ), again
    listed = await cli(router, "heartbeats", "--json")
    assert (
        listed.code == 0
        and json.loads(listed.out)["heartbeats"] == (await api.get("/v1/heartbeats")).json()["heartbeats"]
    )
    bad = await cli(router, "snooze", incident["id"], "--minutes", "0")
    assert bad.code == 2 and "greater than or equal to 1" in bad.err


async def test_note_and_override(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    incident = await open_incident(api, producer, f"cli-note-{unique}")
    noted = await cli(router, "note", incident["id"], f"looked at the dashboards {unique}", "--by", "bob")
    assert noted.code == 0 and noted.out.strip() == f"note added to incident {incident['id']}"
    body = (await api.get(f"/v1/incidents/{incident['id']}")).json()
    assert any(f"looked at the dashboards {unique}" in (e.get("reason") or "") for e in body["timeline"])

    added = await cli(
        router,
        "override",
        "add",
        "payments-primary",
        "--user",
        "carol",
        "--from",
        "2091-01-01T00:00:00Z",
        "--for",
        "8h",
        "--reason",
        f"cover {unique}",
        "--json",
    )
    assert added.code == 0, added
    made = json.loads(added.out)
    listed = await cli(router, "override", "list", "payments-primary")
    assert any(line.startswith(made["id"]) and "carol" in line for line in listed.out.splitlines())
    oncall = (await api.get("/v1/oncall", params={"service": "checkout", "at": "2091-01-01T04:00:00Z"})).json()
    assert "carol" in json.dumps(oncall)
    removed = await cli(router, "override", "remove", "payments-primary", made["id"])
    assert removed.out.strip() == f"override {made['id']} of payments-primary removed"


async def test_incidents_say_that_more_exist_and_page_on(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    opened = [await open_incident(api, producer, f"cli-page-{unique}-{n}") for n in (1, 2)]
    try:
        query: dict[str, str | int] = {"service": "checkout", "status": "open", "limit": 1}
        first = (await api.get("/v1/incidents", params=query)).json()
        second = (await api.get("/v1/incidents", params={**query, "cursor": first["next_cursor"]})).json()
        args = ("incidents", "--service", "checkout", "--status", "open", "--limit", "1")
        page = (await cli(router, *args)).out.splitlines()
        assert page[1].startswith(first["items"][0]["id"])
        assert page[-1] == f"more incidents: add --cursor {first['next_cursor']} for the next page"
        following = await cli(router, *args, "--cursor", first["next_cursor"], "--json")
        assert json.loads(following.out) == second
    finally:
        for incident in opened:
            done = await api.post(f"/v1/incidents/{incident['id']}/resolve", json={"by": "bob"})
            assert done.status_code == 200, done.text


async def test_an_id_is_one_segment_of_the_path(router: RouterRuntime, api: httpx.AsyncClient, unique: str) -> None:
    """An id is sent as typed, as one path segment: a '?' made it a query (a 422 about a 'limit' nobody gave), a
    control character an httpx traceback, and '../' an action on something else -- here the removal of an 'override'
    ended a maintenance window while the command said an override was removed."""
    made = await api.post("/v1/services/storm/maintenance", json={"ends_at": "2091-01-01T00:00:00Z", "reason": unique})
    assert made.status_code == 201, made.text
    window = made.json()["id"]
    try:
        sneaky = f"../../../services/storm/maintenance/{window}"
        failed(await cli(router, "override", "remove", "payments-primary", sneaky), 1, "404 Not Found")
        listed = (await api.get("/v1/services/storm/maintenance")).json()["created"]
        assert window in {w["id"] for w in listed}  # still going on
        failed(await cli(router, "why", "x?limit=1"), 1, "404 Not Found: decision 'x?limit=1' not found")
        failed(await cli(router, "drill", "report", "a\x01b"), 1, "404 Not Found: drill 'a\\x01b' not found")
        failed(await cli(router, "maintenance", "end", "storm", ".."), 2, "'..' is not an id")
    finally:
        await api.delete(f"/v1/services/storm/maintenance/{window}")
