"""An instant with no UTC equivalent (``9999-12-31T23:59:59-05:00``: a valid date and offset, yet a year past 9999
in UTC), or far outside the years the router works in, is the caller's to correct: 422 problem+json naming the
field. Each of these was a 500 ``internal error`` and an ``unhandled_error`` log line, at any caller's will -- in
a list's filter, in a body (a maintenance window, an override, a token, a preview), or in a cursor.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest

NO_UTC = "9999-12-31T23:59:59-05:00"
BEFORE_UTC = "0001-01-01T00:00:00+05:00"
LATER = "2091-01-01T02:00:00Z"


def cursor(*parts: object) -> str:
    """A cursor shaped as the API makes them (``alertrouter_shared.cursors``) around a key it never made."""
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/incidents", {"since": NO_UTC}, "query.since"),
        ("/v1/incidents", {"since": BEFORE_UTC}, "query.since"),
        ("/v1/decisions", {"until": BEFORE_UTC}, "query.until"),
        ("/v1/audit", {"since": NO_UTC}, "query.since"),
        ("/v1/reports/oncall", {"until": "9999-12-31T23:59:59Z"}, "query.until"),
        ("/v1/oncall", {"service": "checkout", "at": NO_UTC}, "is not between"),
    ],
)
async def test_a_filter_instant_out_of_range_is_422(
    api: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    answer = await api.get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/services/storm/maintenance", {"ends_at": NO_UTC, "reason": "out of range"}, "body.ends_at"),
        ("/v1/services/storm/maintenance", {"starts_at": BEFORE_UTC, "ends_at": LATER}, "body.starts_at"),
        ("/v1/schedules/payments-primary/overrides", {"user": "carol", "start": LATER, "end": NO_UTC}, "body.end"),
        ("/v1/tokens", {"client": "out-of-range", "role": "viewer", "expires_at": NO_UTC}, "body.expires_at"),
        ("/v1/route/preview", {"labels": {"service": "checkout"}, "at": "9999-12-31T20:00:00Z"}, "body.at"),
    ],
)
async def test_a_body_instant_out_of_range_is_422_and_nothing_is_made(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    before = (await api.get("/v1/audit", params={"limit": 1})).json()["items"]
    answer = await api.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith(f"{field}: ")
    assert (await api.get("/v1/audit", params={"limit": 1})).json()["items"] == before  # nothing created


async def test_a_naive_preview_instant_is_refused_not_taken_as_utc(api: httpx.AsyncClient) -> None:
    answer = await api.post("/v1/route/preview", json={"labels": {"service": "checkout"}, "at": "2026-07-01T12:00"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("body.at: ")


@pytest.mark.parametrize(
    ("path", "made_up"),
    [
        ("/v1/incidents", cursor("incidents", {"t": NO_UTC}, "x")),
        ("/v1/incidents", cursor("incidents", {"t": BEFORE_UTC}, "x")),
        ("/v1/services/storm/maintenance", cursor("maintenance", {"t": NO_UTC}, "x")),
        ("/v1/services/storm/drills", cursor("drills", {"t": NO_UTC}, "x")),
        ("/v1/decisions", cursor("decisions", 2**64 - 1)),
        ("/v1/audit", cursor("audit", 2**63)),
    ],
)
async def test_a_cursor_with_a_key_out_of_range_is_422(api: httpx.AsyncClient, path: str, made_up: str) -> None:
    answer = await api.get(path, params={"cursor": made_up})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith("cursor: not a cursor this API returned")
