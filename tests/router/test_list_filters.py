"""Filters of the lists an SRE reads during an incident: a value the list cannot honour is a 422 naming the
parameter, not an answer that looks like "nothing happened" (a misspelt outcome matched no decision) or that reads
a wall time in the server's zone (a ``since`` without an offset, which the rest of the API refuses)."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/incidents", {"since": "2026-11-01T00:00:00"}, "since"),
        ("/v1/decisions", {"since": "2026-11-01T00:00:00"}, "since"),
        ("/v1/decisions", {"until": "2026-11-01T00:00:00"}, "until"),
        ("/v1/decisions", {"outcome": "no-route"}, "outcome"),
        ("/v1/audit", {"since": "2026-11-01T00:00:00"}, "since"),
        ("/v1/audit", {"until": "2026-11-01T00:00:00"}, "until"),
    ],
)
async def test_a_filter_the_list_cannot_honour_is_refused(
    api: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    answer = await api.get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert f"query.{field}" in answer.json()["detail"]


async def test_the_filters_spelt_right_still_answer(api: httpx.AsyncClient) -> None:
    for path, params in (
        ("/v1/incidents", {"since": "2026-11-01T00:00:00Z"}),
        ("/v1/decisions", {"outcome": "no_route", "since": "2026-11-01T01:00:00+01:00"}),
        ("/v1/audit", {"until": "2026-11-01T00:00:00Z"}),
    ):
        answer = await api.get(path, params=params)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/oncall", {"service": "checkout", "time": "2091-01-01T00:00:00Z"}, "time"),  # answered for now
        ("/v1/incidents", {"state": "open"}, "state"),  # answered every incident
        ("/v1/decisions", {"services": "checkout"}, "services"),
        ("/v1/audit", {"user": "carol"}, "user"),
    ],
)
async def test_a_parameter_the_route_does_not_have_is_refused(
    api: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    answer = await api.get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == f"query.{field}: not a parameter of this route"
