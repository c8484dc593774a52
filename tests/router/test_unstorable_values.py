"""A NUL character (U+0000) in a query, a path or a body: PostgreSQL refuses it in text, so any caller with a token
(a viewer too) got a 500 and an ``unhandled_error`` log line at will -- enough to trip an error-rate alert on the
router itself. It is the caller's to correct: 422 problem+json, logged at info."""

from __future__ import annotations

import httpx
import pytest

from alertrouter_shared.web.errors import UNSTORABLE


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/incidents", {"team": "\x00"}),
        ("GET", "/v1/decisions", {"dedup_key": "am:\x00"}),
        ("GET", "/v1/incidents/%00x", {}),
        ("POST", "/v1/incidents/%00x/notes", {}),
    ],
)
async def test_a_nul_character_is_the_callers_to_correct(
    api: httpx.AsyncClient, method: str, path: str, params: dict[str, str]
) -> None:
    body = {"note": "looking"} if method == "POST" else None
    answer = await api.request(method, path, params=params, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == UNSTORABLE
