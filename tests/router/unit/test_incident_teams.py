"""Who may act on an incident after a reload renamed things, with no database (``permissions.incident_teams``)."""

from __future__ import annotations

from alertrouter_router.api.permissions import Routable, incident_teams
from tests.router.unit.test_reload_routing import _checkout_renamed

OPENED = Routable({"service": "checkout", "alertname": "Down"}, "test-am", drill=False)


def test_the_team_its_alert_routes_to_now_may_act_when_a_reload_renamed_service_and_team() -> None:
    """checkout became shop-checkout, owned by ghosts (the payments team renamed, say), and its policy kept: the
    incident kept team payments and service checkout, so ghosts' members got 403 on their own incident, and only
    an admin could acknowledge it while it kept paging them."""
    config = _checkout_renamed(team="ghosts").config
    assert incident_teams(config, "payments", "checkout", OPENED) == {"payments", "ghosts"}
    assert incident_teams(config, "payments", "checkout") == {"payments"}  # nothing to route it by: as before
    drill = Routable(OPENED.labels, OPENED.integration_id, drill=True)
    assert incident_teams(config, "payments", "checkout", drill) == {"payments"}  # a drill is never routed again


def test_a_service_still_there_names_its_owner_not_a_route() -> None:
    config = _checkout_renamed(team="ghosts").config
    moved = Routable({"service": "checkout"}, "test-am", drill=False)
    assert incident_teams(config, "payments", "shop-checkout", moved) == {"payments", "ghosts"}
    assert incident_teams(config, None, "nowhere", Routable({"service": "nowhere"}, None, drill=False)) == set()
