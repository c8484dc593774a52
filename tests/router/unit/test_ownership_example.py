"""The shipped example configuration loads cleanly and behaves as the dev stack expects."""

from __future__ import annotations

import io
from pathlib import Path

from alertrouter_router.ownership.cli_validate import EXIT_OK, validate_command
from alertrouter_router.ownership.escalation_targets import targets_for_level
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.ownership.maintenance import active_maintenance
from alertrouter_router.ownership.routing import resolve_route
from alertrouter_router.ownership.schedules import on_call_at
from alertrouter_shared.integrations import IntegrationType
from tests.router.unit.ownership_builders import berlin, local, utc

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ownership"


def test_example_loads_and_passes_the_linter() -> None:
    loaded = load_config(EXAMPLE, environ={})
    assert len(loaded.files) == 4
    assert len(loaded.teams_by_id) == 3 and len(loaded.services_by_id) == 6
    out = io.StringIO()
    assert validate_command(EXAMPLE, 14, now=utc(2026, 12, 1), out=out) == EXIT_OK, out.getvalue()


def test_example_integration_keys_of_the_dev_stack() -> None:
    loaded = load_config(EXAMPLE, environ={})
    assert loaded.integration_for_key("dev-alertmanager").type is IntegrationType.ALERTMANAGER  # type: ignore[union-attr]
    assert loaded.integration_for_key("dev-cloudwatch").type is IntegrationType.CLOUDWATCH  # type: ignore[union-attr]
    events = loaded.integration_for_key("devevents00000000000000000000000")
    assert events is not None and events.type is IntegrationType.EVENTS_V2


def test_example_routes_checkout_to_payments() -> None:
    config = load_config(EXAMPLE, environ={}).config
    match = resolve_route(config, {"service": "checkout", "severity": "critical"}, None)
    assert (match.service_id, match.team_id, match.escalation_policy_id) == (
        "checkout",
        "payments",
        "payments-critical",
    )
    assert resolve_route(config, {"service": "checkout-api"}, None).service_id == "checkout"
    assert resolve_route(config, {"job": "postgres-exporter"}, None).service_id == "postgres"
    assert resolve_route(config, {"alertname": "Unknown"}, None).rule_id == "unrouted-to-platform"
    assert resolve_route(config, {}, "payments-ledger").service_id == "payments-ledger"


def test_example_follow_the_sun_and_override() -> None:
    config = load_config(EXAMPLE, environ={}).config
    sun = config.schedules_by_id["search-follow-the-sun"]
    day = on_call_at(sun, config.users_by_id, berlin(2026, 12, 1, 10))
    night = on_call_at(sun, config.users_by_id, berlin(2026, 12, 1, 22))
    assert (day.layer_id, day.user_id in {"hana", "julia"}) == ("emea-daytime", True)
    assert (night.layer_id, night.user_id in {"ivan", "kate"}) == ("americas", True)
    primary = config.schedules_by_id["payments-primary"]
    # weekly from Monday 2026-01-05: the week of 2026-12-21 is turn 50 (clara), 2026-12-14 is turn 49 (ben)
    christmas = on_call_at(primary, config.users_by_id, berlin(2026, 12, 25, 12))
    assert (christmas.user_id, christmas.override_id) == ("ben", "clara-christmas")
    assert on_call_at(primary, config.users_by_id, berlin(2026, 12, 27, 12)).user_id == "clara"
    assert on_call_at(primary, config.users_by_id, berlin(2026, 12, 18, 12)).user_id == "ben"
    newyork = config.schedules_by_id["platform-primary"]
    assert on_call_at(newyork, config.users_by_id, local("America/New_York", 2026, 1, 12, 10)).user_id == "erin"


def test_example_webhook_contact_for_every_user() -> None:
    loaded = load_config(EXAMPLE, environ={})
    for user in loaded.config.users:
        hooks = [m for m in user.contact_methods if m.type.value == "webhook"]
        assert [h.address for h in hooks] == [f"http://127.0.0.1:18090/hooks/{user.id}"]
    policy = loaded.policies_by_id["payments-critical"]
    [target] = targets_for_level(loaded.config, policy, 0, berlin(2026, 12, 1, 12))
    assert target.notifications[0].contact_method.type.value == "webhook"


def test_example_maintenance_windows() -> None:
    services = load_config(EXAMPLE, environ={}).services_by_id
    assert active_maintenance(services["payments-ledger"], berlin(2026, 12, 6, 3)) is not None  # sunday 03:00
    assert active_maintenance(services["payments-ledger"], berlin(2026, 12, 6, 4)) is None
    assert active_maintenance(services["postgres"], utc(2026, 12, 5, 7)) is not None
    assert active_maintenance(services["checkout"], utc(2026, 12, 5, 7)) is None
