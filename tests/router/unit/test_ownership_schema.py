"""The published JSON Schema: current with the models, accepts every example, rejects broken files.

Files are read with the loader's own YAML reader (YAML 1.2 core scalars), which is what an editor's
yaml-language-server sees, so "the schema accepts it" means the same here as in the editor.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from alertrouter_router.ownership.errors import ConfigError
from alertrouter_router.ownership.json_schema import PUBLISHED_PATH, render
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.ownership.yaml_source import read_yaml
from tests.router.unit.ownership_builders import minimal_document

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / PUBLISHED_PATH
EXAMPLES = sorted((ROOT / "examples" / "ownership").glob("*.yaml"))
FIXTURES = [ROOT / "tests" / "fixtures" / "router" / "ownership.yaml"]


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_published_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        f"{PUBLISHED_PATH} is stale: run `uv run alertrouter config schema > {PUBLISHED_PATH}`"
    )


@pytest.mark.parametrize("path", EXAMPLES + FIXTURES, ids=lambda p: p.name)
def test_schema_accepts_every_example_file(path: Path) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(read_yaml(path, "x").data)]
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_point_editors_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    assert (path.parent / first.removeprefix(prefix)).resolve() == SCHEMA_FILE


def test_schema_accepts_the_spellings_people_use() -> None:
    document = minimal_document()
    layer = document["schedules"][0]["layers"][0]
    spellings: list[Any] = [{"weeks": 1}, {"hours": 12}, {"duration": "PT12H"}, "12h", "90m", "P1W", "1d"]
    for turn in spellings:
        layer["turn"] = turn
        assert not list(validator().iter_errors(document)), turn
    layer["handoff_time"] = "9:30"
    layer["restrictions"] = [{"start_day": "Fri", "start_time": "18:00", "end_day": "monday", "end_time": "08:00"}]
    document["route_rules"][0]["match"] = ['service=~"svc.*"', "env != staging", {"label": "job", "op": "exists"}]
    document["route_rules"].append({"id": "by-label", "service_from_label": "service"})
    document["services"][0]["aliases"] = ["svc-api"]
    document["services"][0]["drills"] = [
        {"id": "monthly", "rrule": "FREQ=MONTHLY;BYDAY=1TU;BYHOUR=14;BYMINUTE=0", "time_zone": "Europe/Berlin"},
        {
            "id": "weekly",
            "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=30",
            "time_zone": "UTC",
            "start": "2027-01-04T00:00:00",
            "silent": True,
            "note": "every other week",
        },
        {
            "id": "last",
            "rrule": "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=9;BYMINUTE=0;UNTIL=20301231T000000",
            "time_zone": "UTC",
        },
    ]
    assert [e.message for e in validator().iter_errors(document)] == []


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


BROKEN: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown field": _set(("teams", 0, "memberz"), ["a"]),
    "unknown section": _set(("service",), []),
    "wrong type": _set(("escalation_policies", 0, "repeat"), "twice"),
    "missing required field": lambda d: d["users"][0].pop("time_zone"),
    "zero turn": _set(("schedules", 0, "layers", 0, "turn"), {"weeks": 0}),
    "turn with two units": _set(("schedules", 0, "layers", 0, "turn"), {"weeks": 1, "days": 2}),
    "turn text": _set(("schedules", 0, "layers", 0, "turn"), "a fortnight"),
    "clock time": _set(("schedules", 0, "layers", 0, "handoff_time"), "25:00"),
    "weekday": _set(
        ("schedules", 0, "layers", 0, "restrictions"),
        [{"start_day": "funday", "start_time": "09:00", "end_day": "monday", "end_time": "10:00"}],
    ),
    "layer start": _set(("schedules", 0, "layers", 0, "start"), "next monday"),
    "contact method type": _set(("users", 0, "contact_methods", 0, "type"), "pager"),
    "identifier": _set(("teams", 0, "id"), "team a"),
    "matcher string": _set(("route_rules", 0, "match"), ["service~svc"]),
    "matcher operator": _set(("route_rules", 0, "match"), [{"label": "a", "op": "~", "value": "b"}]),
    "rule without destination": lambda d: d["route_rules"][0].pop("service"),
    "rule with two destinations": _set(("route_rules", 0, "service_from_label"), "service"),
    "delay out of range": _set(("escalation_policies", 0, "levels", 0, "delay_minutes"), 0),
    "override without offset": _set(
        ("schedules", 0, "overrides"), [{"id": "o", "user": "a", "start": "2024-01-01", "end": "2024-01-02"}]
    ),
    "boolean as a label value": _set(("services", 0, "labels"), {"canary": True}),
    "drill rule without FREQ": _set(
        ("services", 0, "drills"), [{"id": "d", "rrule": "BYDAY=1TU;BYHOUR=14;BYMINUTE=0", "time_zone": "UTC"}]
    ),
    "drill rule more often than daily": _set(
        ("services", 0, "drills"), [{"id": "d", "rrule": "FREQ=HOURLY;BYMINUTE=0", "time_zone": "UTC"}]
    ),
    "drill rule written as a phrase": _set(
        ("services", 0, "drills"), [{"id": "d", "rrule": "first Tuesday 14:00", "time_zone": "Europe/Berlin"}]
    ),
    "drill without a time zone": _set(
        ("services", 0, "drills"), [{"id": "d", "rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"}]
    ),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_schema_and_loader_reject_broken_files(name: str, tmp_path: Path) -> None:
    document = copy.deepcopy(minimal_document())
    BROKEN[name](document)
    assert list(validator().iter_errors(document)), f"the schema accepts: {name}"
    path = tmp_path / "ownership.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path, environ={})
