"""Events bound to a service by ingest under another configuration than the router's, with no database.

Ingest and the router load the configuration's files each on its own schedule, and ingest checks only the
integrations, so it serves a change the router refused: for a while ingest binds events to a service the router
does not have (renamed, added, or only in the refused files)."""

from __future__ import annotations

import uuid

from alertrouter_router.decisions import Outcome
from alertrouter_router.decisions.decide import NotReached
from alertrouter_router.decisions.explain import explain_text
from alertrouter_router.drills import DRILL_INTEGRATION
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_shared.events import AlertAction, AlertSource
from tests.router.unit.decide_support import CONFIG, T0, Store, decision_row, event, minutes


def _with_bound_integration() -> LoadedConfig:
    """The test configuration plus an integration bound to checkout (as the router's configuration has it)."""
    document = CONFIG.config.model_dump()
    document["integrations"].append(
        {
            "id": "bound-am",
            "type": "alertmanager",
            "service": "checkout",
            "key": "bound-alertmanager-key",
            "development_only": True,
        }
    )
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, CONFIG.version, CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def test_an_event_bound_to_a_service_this_configuration_lacks_pages_through_the_integration_s_binding() -> None:
    """Ingest, already on files that renamed checkout to shop-checkout (or on files the router refused), bound the
    event to shop-checkout: the router decided "integration bound to unknown service" and paged nobody, for every
    event of the integration until both served the same files; an alarm sent once was never paged."""
    store = Store(config=_with_bound_integration())
    stale = {"integration_id": "bound-am", "bound_service": "shop-checkout"}
    bound = event("cw-1", service="").model_copy(update=stale)
    store.run([bound], T0)
    decision = store.last("cw-1")
    assert decision.outcome is Outcome.PAGED and decision.service_id == "checkout"
    assert decision.reason.startswith("paged level 1")
    route = decision.explanation["route"]
    assert route["bound_service"] is True
    assert route["reason"] == (
        "the event's bound service 'shop-checkout' is not in this configuration; "
        "integration 'bound-am' is bound to service 'checkout'"
    )
    resolve = bound.model_copy(
        update={"event_id": uuid.uuid4(), "action": AlertAction.RESOLVE, "occurred_at": T0 + minutes(1)}
    )
    store.run([resolve], T0 + minutes(1))
    assert store.last("cw-1").outcome is Outcome.RESOLVED and store.last("cw-1").service_id == "checkout"


def test_an_event_bound_to_an_unknown_service_of_an_unbound_integration_is_routed_by_the_rules() -> None:
    """The router's configuration binds the integration to no service (its binding is new in ingest's files):
    the event is routed as this configuration routes the integration's events, by its labels."""
    store = Store()
    bound = event("am-1", service="checkout").model_copy(update={"bound_service": "brand-new"})
    store.run([bound], T0)
    decision = store.last("am-1")
    assert decision.outcome is Outcome.PAGED and decision.service_id == "checkout"
    reason = decision.explanation["route"]["reason"]
    assert reason.startswith("the event's bound service 'brand-new' is not in this configuration; rule ")


def test_an_event_bound_to_an_unknown_service_that_no_rule_routes_says_both() -> None:
    store = Store()
    bound = event("am-2", service="nothing-routes-this").model_copy(update={"bound_service": "brand-new"})
    store.run([bound], T0)
    decision = store.last("am-2")
    assert decision.outcome is Outcome.NO_ROUTE
    assert decision.reason == (
        "the event's bound service 'brand-new' is not in this configuration; "
        "no route rule matched and there is no catch-all rule"
    )


def test_a_drill_of_a_service_a_reload_removed_pages_nobody_rather_than_whoever_its_labels_route_to() -> None:
    """A drill rehearses its own service's chain: its labels must not reach a catch-all's team."""
    document = CONFIG.config.model_dump()
    document["route_rules"].append({"id": "everything", "service": "checkout", "match": []})
    config = type(CONFIG.config).model_validate(document)
    store = Store(config=LoadedConfig(config, "catch-all", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys))
    drill = event("drill:gone:1", service="gone").model_copy(
        update={
            "source": AlertSource.DRILL,
            "integration_id": DRILL_INTEGRATION,
            "bound_service": "gone",
            "drill": True,
            "drill_ends_at": T0 + minutes(30),
        }
    )
    store.run([drill], T0)
    decision = store.last("drill:gone:1")
    assert decision.outcome is Outcome.NO_ROUTE and store.pages == []
    assert decision.reason == "integration bound to unknown service 'gone'"


def _checkout_renamed(team: str = "ghosts", before: LoadedConfig = CONFIG) -> LoadedConfig:
    """A reload of ``before`` that renamed service checkout to shop-checkout (now owned by ``team``) and policy
    payments-default to shop-default: the rule for service=checkout and the integrations bound to checkout now go
    to shop-checkout."""
    document = before.config.model_dump()
    for policy in document["escalation_policies"]:
        if policy["id"] == "payments-default":
            policy["id"] = "shop-default"
    for service in document["services"]:
        if service["escalation_policy"] == "payments-default":
            service["escalation_policy"] = "shop-default"
        if service["id"] == "checkout":
            service.update(id="shop-checkout", owner_team=team)
    for item in document["route_rules"] + document["integrations"]:
        if item["service"] == "checkout":
            item["service"] = "shop-checkout"
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, "renamed", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def test_a_step_after_its_service_and_policy_were_renamed_pages_the_service_its_labels_route_to_now() -> None:
    """The step decided "policy payments-default no longer exists, nor a policy of its service" and scheduled
    nothing: the incident stayed triggered, the alert's later triggers were duplicates of it, and nobody was paged
    again for as long as it fired."""
    store = Store()
    store.run([event("r")], T0)
    incident_id = store.last("r").incident_id or ""
    store.config = _checkout_renamed()
    store.tick(T0 + minutes(5))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.PAGED and decision.level == 2
    assert (decision.service_id, decision.team_id, decision.policy_id) == ("shop-checkout", "ghosts", "shop-default")
    assert decision.explanation["service_replaced"] == {"was": "checkout", "now": "shop-checkout"}
    assert decision.reason.startswith(
        "not acknowledged in time: service checkout and policy payments-default no longer exist, routed again to "
        "service shop-checkout (rule 'by-service-label' matched: service = 'checkout' (was 'checkout')), "
        "continuing with shop-default; paged level 2"
    )
    incident = store.incidents[incident_id]
    assert (incident.service_id, incident.team_id, incident.policy_id) == ("shop-checkout", "ghosts", "shop-default")
    assert {p.user_id for p in store.pages_for(incident_id) if p.escalation_level == 2} == {"bob"}
    assert store.pending_steps  # and it goes on escalating


def test_a_bound_integration_s_incident_whose_service_and_policy_were_renamed_pages_through_its_binding() -> None:
    """A CloudWatch alarm's labels match no rule (its route came from the integration's binding): routed again by
    them alone, the step decided "... and it is not routed again: no route rule matched", nobody was paged again,
    and the alarm's later triggers were duplicates of the incident."""
    store = Store(config=_with_bound_integration())
    alarm = event("cw:bound-am:alarm", service="").model_copy(
        update={"source": AlertSource.CLOUDWATCH, "integration_id": "bound-am", "bound_service": "checkout"}
    )
    store.run([alarm], T0)
    incident_id = store.last("cw:bound-am:alarm").incident_id or ""
    store.config = _checkout_renamed(before=_with_bound_integration())
    store.tick(T0 + minutes(5))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.PAGED and decision.level == 2, decision.reason
    assert (decision.service_id, decision.team_id, decision.policy_id) == ("shop-checkout", "ghosts", "shop-default")
    assert decision.reason.startswith(
        "not acknowledged in time: service checkout and policy payments-default no longer exist, routed again to "
        "service shop-checkout (integration is bound to service 'shop-checkout'), continuing with shop-default"
    )
    incident = store.incidents[incident_id]
    assert (incident.service_id, incident.team_id, incident.policy_id) == ("shop-checkout", "ghosts", "shop-default")
    assert {p.user_id for p in store.pages_for(incident_id) if p.escalation_level == 2} == {"bob"}
    assert store.pending_steps


def _routeless() -> LoadedConfig:
    """A reload that renamed checkout and its policy and dropped the rule to it: checkout's incidents route nowhere."""
    document = _checkout_renamed().config.model_dump()
    document["route_rules"] = [r for r in document["route_rules"] if r["service"] != "shop-checkout"]
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, "routeless", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def test_a_step_whose_service_is_gone_and_whose_labels_route_nowhere_says_why() -> None:
    store = Store()
    store.run([event("g")], T0)
    store.config = _routeless()
    store.tick(T0 + minutes(5))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.NOBODY_ON_CALL
    assert decision.reason == (
        "policy payments-default no longer exists in configuration routeless, nor service checkout, and it is not "
        "routed again: no route rule matched and there is no catch-all rule; trying again at "
        f"{(T0 + minutes(10)).isoformat()}"
    )


def test_an_incident_left_without_a_policy_by_a_reload_pages_again_once_a_rollback_restores_it() -> None:
    """The step ended the escalation: the incident stayed triggered with no step, and once the reload was rolled
    back its alert's triggers were still duplicates of it: nobody was ever paged again."""
    store = Store()
    store.run([event("g")], T0)
    incident_id = store.last("g").incident_id or ""
    store.config = _routeless()
    store.tick(T0 + minutes(5))
    store.tick(T0 + minutes(10))  # still broken: tried again later, again
    assert [d.outcome for d in store.decisions[-2:]] == [Outcome.NOBODY_ON_CALL] * 2
    assert "level 2 (round 3) is tried again at 2026-03-02 10:15:00 UTC" in explain_text(
        decision_row(store.decisions[-1])
    )
    store.config = CONFIG  # rolled back
    store.tick(T0 + minutes(15))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.PAGED and decision.incident_id == incident_id
    assert decision.level == 2 and {p.user_id for p in store.pages_for(incident_id) if p.escalation_level == 2}


def test_a_level_that_reached_nobody_under_no_policy_says_why_and_its_step_tries_again() -> None:
    """The news that every page of the level failed was dropped without a decision when a reload had left the
    incident no policy: nothing said why the next level was not paged at once."""
    store = Store()
    store.run([event("g")], T0)
    incident_id = store.last("g").incident_id or ""
    store.config = _routeless()
    failed = NotReached(incident_id, 0, 0, ("alice not reached: sms undelivered",))
    decision = store.run([failed], T0 + minutes(2)).decisions[0]
    assert decision.outcome is Outcome.NOBODY_ON_CALL
    assert decision.reason == (
        "level 1: alice not reached: sms undelivered; policy payments-default no longer exists in configuration "
        "routeless, nor service checkout, and it is not routed again: no route rule matched and there is no "
        "catch-all rule: nobody else paged now; its next step, if any, tries again when due"
    )
    assert store.run([failed], T0 + minutes(3)).decisions == []  # the same news twice says it once
    store.tick(T0 + minutes(5))  # the level's step is still there, and retries
    retry = store.decisions[-1]
    assert retry.outcome is Outcome.NOBODY_ON_CALL and "trying again" in retry.reason
    store.config = CONFIG  # rolled back
    store.tick(T0 + minutes(10))
    paged = store.decisions[-1]
    assert paged.outcome is Outcome.PAGED and paged.incident_id == incident_id


def test_a_step_for_a_level_a_reload_removed_says_so_in_its_reason() -> None:
    """The why read "Escalation step round 1 level 2 … was due … Outcome: paged — not acknowledged in time: paged
    level 1": the level paged instead was named, the level that was due gone without a word."""
    store = Store()
    store.run([event("l")], T0)
    document = CONFIG.config.model_dump()
    for policy in document["escalation_policies"]:
        if policy["id"] == "payments-default":
            policy["levels"] = policy["levels"][:1]
    config = type(CONFIG.config).model_validate(document)
    store.config = LoadedConfig(config, "one-level", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)
    store.tick(T0 + minutes(5))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.PAGED and decision.level == 1
    assert decision.reason == (
        "not acknowledged in time: level 2 no longer exists (policy payments-default has 1 now): "
        "paged level 1 (round 1) of policy payments-default: alice"
    )


def test_a_drill_incident_whose_service_a_reload_renamed_is_not_routed_to_another_team() -> None:
    store = Store()
    drill = event("drill:checkout:2").model_copy(
        update={"source": AlertSource.DRILL, "drill": True, "drill_ends_at": T0 + minutes(30)}
    )
    store.run([drill], T0)
    incident_id = store.last("drill:checkout:2").incident_id or ""
    store.config = _checkout_renamed()
    store.tick(T0 + minutes(5))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.ESCALATION_ENDED
    assert decision.reason.endswith("and it is not routed again: a drill is not routed to another service")
    assert store.incidents[incident_id].service_id == "checkout"
    assert [p for p in store.pages_for(incident_id) if p.escalation_level == 2] == []


def _frozen_routed_to_checkout() -> LoadedConfig:
    """A reload that routes the alerts of service frozen (always in maintenance) to checkout."""
    document = CONFIG.config.model_dump()
    for rule in document["route_rules"]:
        if rule["id"] == "frozen":
            rule["service"] = "checkout"
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, "moved", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def test_an_alert_waiting_out_a_window_is_paged_once_a_reload_routes_it_to_a_service_out_of_maintenance() -> None:
    """The recheck looked at the window of the service the alert was suppressed for: moved by a reload to a service
    out of maintenance, it went on waiting for the old one's window to end (here: never)."""
    store = Store()
    store.run([event("f", service="frozen")], T0)
    assert store.last("f").explanation["suppressed_by"] == "maintenance"
    store.config = _frozen_routed_to_checkout()
    store.tick(T0 + minutes(120))
    decision = store.last("f")
    assert decision.outcome is Outcome.PAGED and decision.service_id == "checkout", decision.reason


def test_an_alert_a_reload_moved_into_another_window_pages_when_that_window_is_ended_early() -> None:
    """Still in maintenance under the service a reload routed it to, the alert kept the service it was suppressed for:
    ending the new service's window early through the API (which makes due the alerts suppressed for that service)
    passed it over, and it waited for its next recheck."""
    store = Store()
    store.run([event("f", service="frozen")], T0)
    store.config = _frozen_routed_to_checkout()
    window = store.window("checkout", T0, T0 + minutes(120))
    store.tick(T0 + minutes(1))
    assert store.pages == [] and store.alerts["f"].service_id == "checkout"

    store.end_window(window, T0 + minutes(1.5))
    store.tick(T0 + minutes(1.5))
    decision = store.last("f")
    assert decision.outcome is Outcome.PAGED and decision.service_id == "checkout", decision.reason
