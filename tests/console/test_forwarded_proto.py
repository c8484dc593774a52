"""``X-Forwarded-Proto`` read as the scheme the person's browser used (pure): behind chained proxies the header is
a list, and its first value is the client-facing one."""

from __future__ import annotations

import pytest

from alertrouter_router.console.session import forwarded_scheme


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        ("https", "https"),
        ("http", "http"),
        ("https, http", "https"),
        ("https,https", "https"),
        ("http, https", "http"),
        ("  HTTPS ,http", "https"),
        ("Https", "https"),
        ("", ""),
        (",https", ""),
    ],
)
def test_the_first_value_of_the_list_is_the_scheme(header: str, scheme: str) -> None:
    assert forwarded_scheme(header) == scheme
