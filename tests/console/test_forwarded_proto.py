"""``X-Forwarded-Proto`` and RFC 7239's ``Forwarded`` read as the scheme the person's browser used (pure): behind
chained proxies each header is a list, and its first element is the client-facing one."""

from __future__ import annotations

import pytest

from alertrouter_router.console.session import forwarded_scheme, standard_forwarded_scheme


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


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        ("proto=https", "https"),
        ("for=192.0.2.60;proto=https;by=203.0.113.43", "https"),
        ('for="[2001:db8:cafe::17]:4711";Proto="HTTPS"', "https"),
        ("for=192.0.2.60;proto=https, for=10.0.0.1;proto=http", "https"),
        ("for=192.0.2.60;proto=http, for=10.0.0.1;proto=https", "http"),
        ("for=192.0.2.60", ""),
        ("", ""),
    ],
)
def test_the_proto_of_the_first_forwarded_element_is_the_scheme(header: str, scheme: str) -> None:
    assert standard_forwarded_scheme(header) == scheme
