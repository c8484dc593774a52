"""The labels typed into Preview (pure): one pair per line or comma-separated, and a value may hold a comma."""

from __future__ import annotations

import pytest

from alertrouter_router.console.errors import ConsoleError
from alertrouter_router.console.preview_page import parse_labels


def test_pairs_by_line_or_comma_and_values_with_commas() -> None:
    typed = 'service=checkout, severity="critical"\ninstances=web-1,web-2, team = payments'
    assert parse_labels(typed) == {
        "service": "checkout",
        "severity": "critical",
        "instances": "web-1,web-2",
        "team": "payments",
    }


def test_a_line_without_name_and_value_is_refused_with_the_line() -> None:
    with pytest.raises(ConsoleError, match="'web-2' is not name=value"):
        parse_labels("service=checkout\nweb-2")
