"""Escalation targets: who each level reaches at an instant, how they were selected, when each is notified."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from alertrouter_router.overrides import StoredOverride, laid_over
from alertrouter_router.ownership.escalation_targets import (
    level_for_step,
    readdressed,
    targets_by_level,
    targets_for_level,
)
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.model import TargetType
from tests.router.unit.ownership_builders import berlin, config_from, minimal_document, page_to, user

AT = berlin(2024, 1, 2, 12)  # schedule s1 (daily a, b, c from 2024-01-01 09:00): b is on call


def document_with_levels(levels: list[dict[str, Any]]) -> dict[str, Any]:
    document = minimal_document()
    document["users"].append(user("d"))
    document["escalation_policies"][0]["levels"] = levels
    return document


def test_schedule_target_names_layer_and_until() -> None:
    config = config_from(minimal_document())
    [target] = targets_for_level(config, config.policies_by_id["p1"], 0, AT)
    assert (target.user_id, target.user_name) == ("b", "B")
    assert target.selected_by.kind is TargetType.SCHEDULE
    assert (target.selected_by.id, target.selected_by.layer_id, target.selected_by.override_id) == ("s1", "l1", None)
    assert target.selected_by.until == berlin(2024, 1, 3, 9)
    assert [(n.contact_method.id, n.delay_minutes, n.send_at) for n in target.notifications] == [
        ("b-hook", 0, AT),
        ("b-sms", 5, AT + timedelta(minutes=5)),
    ]
    assert target.notifications[0].contact_method.address == "http://127.0.0.1:18090/hooks/b"


def test_override_is_reported_as_the_selection() -> None:
    document = minimal_document()
    document["users"].append(user("d"))
    document["schedules"][0]["overrides"] = [
        {"id": "swap", "user": "d", "start": "2024-01-02T11:00:00+01:00", "end": "2024-01-02T13:00:00+01:00"}
    ]
    config = config_from(document)
    [target] = targets_for_level(config, config.policies_by_id["p1"], 0, AT)
    assert (target.user_id, target.selected_by.override_id, target.selected_by.until) == (
        "d",
        "swap",
        berlin(2024, 1, 2, 13),
    )


def test_team_and_user_targets_each_person_once_in_order() -> None:
    config = config_from(
        document_with_levels(
            [
                {
                    "delay_minutes": 5,
                    "targets": [
                        {"type": "user", "id": "d"},
                        {"type": "team", "id": "team-a"},
                        {"type": "schedule", "id": "s1"},
                    ],
                }
            ]
        )
    )
    targets = targets_for_level(config, config.policies_by_id["p1"], 0, AT)
    assert [(t.user_id, t.selected_by.kind.value) for t in targets] == [
        ("d", "user"),
        ("a", "team"),
        ("b", "team"),
        ("c", "team"),
    ]


def test_targets_by_level_resolves_every_level() -> None:
    config = config_from(minimal_document())
    levels = targets_by_level(config, config.policies_by_id["p1"], AT)
    assert [(lvl.level_index, lvl.delay_minutes, [t.user_id for t in lvl.targets]) for lvl in levels] == [
        (0, 10, ["b"]),
        (1, 10, ["a", "b", "c"]),
    ]


def test_schedule_gap_reaches_nobody() -> None:
    document = minimal_document()
    document["schedules"][0]["layers"][0]["restrictions"] = [{"start": "09:00", "end": "10:00"}]
    config = config_from(document)
    assert targets_for_level(config, config.policies_by_id["p1"], 0, AT) == []


def test_level_index_out_of_range() -> None:
    config = config_from(minimal_document())
    with pytest.raises(IndexError):
        targets_for_level(config, config.policies_by_id["p1"], 2, AT)


@pytest.mark.parametrize(("step", "expected"), [(0, 0), (1, 1), (2, 0), (3, 1), (4, None), (-1, None)])
def test_level_for_step_counts_repeats(step: int, expected: int | None) -> None:
    config = config_from(minimal_document())  # two levels, repeat 1
    assert level_for_step(config.policies_by_id["p1"], step) == expected


def test_an_api_override_for_someone_a_reload_removed_hides_nobody() -> None:
    """The stored override was laid over the reloaded configuration as it was: its person unknown, the level
    reached nobody, though the schedule had someone on call."""
    config = config_from(minimal_document())
    loaded = LoadedConfig(config, "v", AT, ("ownership.yaml",), {})
    stored = StoredOverride("o1", "s1", "gone", AT - timedelta(hours=1), AT + timedelta(hours=1), None)
    policy = config.policies_by_id["p1"]
    expected = [t.user_id for t in targets_for_level(config, policy, 0, AT)]
    assert expected
    merged = laid_over(loaded, [stored]).config
    assert [t.user_id for t in targets_for_level(merged, merged.policies_by_id["p1"], 0, AT)] == expected
    kept = laid_over(loaded, [replace(stored, user_id="b")]).config  # a known person's override still applies
    assert [t.user_id for t in targets_for_level(kept, kept.policies_by_id["p1"], 0, AT)] == ["b"]


def _delayed_sms_page(config: Any) -> Any:
    [target] = targets_for_level(config, config.policies_by_id["p1"], 0, AT)
    [sms] = [n for n in target.notifications if n.contact_method.id == "b-sms"]
    return page_to("b", sms.contact_method, AT, sms.send_at, page_id="i1:1:1:b:b-sms+5m")


def _with_b_sms(document: dict[str, Any], **method: str) -> dict[str, Any]:
    [b] = [u for u in document["users"] if u["id"] == "b"]
    b["contact_methods"] = [m for m in b["contact_methods"] if m["id"] != "b-sms"]
    if method:
        b["contact_methods"].append({"id": "b-sms", **method})
    else:
        b["notification_rules"] = [r for r in b["notification_rules"] if r["contact_method"] != "b-sms"]
    return document


@pytest.mark.parametrize(
    ("changed", "sent_to"),
    [
        pytest.param({"type": "sms", "address": "+447700900999"}, ("sms", "+447700900999"), id="new number"),
        pytest.param({"type": "voice", "address": "+447700900100"}, ("voice", "+447700900100"), id="now a call"),
        pytest.param({"type": "sms", "address": "+447700900100"}, None, id="unchanged"),
        pytest.param({}, None, id="method removed: sent as decided"),
    ],
)
def test_a_delayed_page_goes_to_the_address_in_force(changed: dict[str, str], sent_to: tuple[str, str] | None) -> None:
    page = _delayed_sms_page(config_from(minimal_document()))
    reloaded = config_from(_with_b_sms(minimal_document(), **changed))
    moved = readdressed(page, reloaded)
    if sent_to is None:
        assert moved is None
    else:
        assert moved is not None
        assert (moved.contact_method.type.value, moved.contact_method.address) == sent_to
        assert moved.model_dump(exclude={"contact_method"}) == page.model_dump(exclude={"contact_method"})


def test_a_page_for_a_person_no_longer_configured_is_sent_as_decided() -> None:
    page = _delayed_sms_page(config_from(minimal_document()))
    assert readdressed(page.model_copy(update={"user_id": "gone"}), config_from(minimal_document())) is None
