"""``ack 7ee2dd81``: an incident named by the start of its id (``alertrouter_cli.incident_ids``), as a table
without a router; tests/cli/test_online.py runs it against one."""

from __future__ import annotations

import pytest

from alertrouter_cli.client import CliError
from alertrouter_cli.incident_ids import match_prefix

OPEN = [
    "7ee2dd81-5be6-5ed1-b79f-95a95a3f5f06",
    "7ee2dd82-0000-4000-8000-000000000001",
    "7ee2dd82-0000-4000-8000-000000000002",
    "0badc0de-1111-4111-8111-111111111111",
]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("7ee2dd81", OPEN[0]),  # the eight digits messages show
        ("#7ee2dd81", OPEN[0]),  # as an SMS or e-mail subject writes it
        ("7ee2dd815be6", OPEN[0]),  # past the first dash, typed without it
        ("7ee2dd81-5be6", OPEN[0]),  # or with it
        ("7ee2dd82-0000-4000-8000-000000000002", OPEN[2]),  # a whole id
        ("0badc0", OPEN[3]),  # six characters are enough when they are unique
        ("no-such-incident", "no-such-incident"),  # not an id's shape: passed on as it is (the API answers 404)
        ("7ee2d", "7ee2d"),  # too short to be taken as a prefix
    ],
)
def test_a_prefix_names_one_open_incident(given: str, expected: str) -> None:
    assert match_prefix(given, OPEN) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("7ee2dd82", "2 open incidents' ids start with '7ee2dd82' (7ee2dd82-0000-4000-8000-000000000001, "),
        ("7ee2dd8", "3 open incidents' ids start with '7ee2dd8'"),
        ("deadbeef", "no open incident's id starts with 'deadbeef'; give the whole id of a closed incident"),
    ],
)
def test_no_guessing(given: str, message: str) -> None:
    with pytest.raises(CliError) as raised:
        match_prefix(given, OPEN)
    assert raised.value.message.startswith(message)
