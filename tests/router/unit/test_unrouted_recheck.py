"""An alert no rule routed, looked at again after a configuration change (``db/alert_rechecks`` marks it due), with
no database: it pages when the configuration in force routes it, and waits again, without a decision, when not.

Before, such an alert was routed again only at its next trigger: an Alertmanager alert at its repeat (hours by
default), a CloudWatch alarm (sent once per state change) never."""

from __future__ import annotations

from dataclasses import replace

from alertrouter_router.decisions import DecisionKind, Outcome
from alertrouter_router.decisions.alerts import AlertStatus, SuppressedBy
from alertrouter_router.ownership.loader import LoadedConfig
from tests.router.unit.decide_support import CONFIG, T0, Store, event, minutes


def _routing_billing() -> LoadedConfig:
    """The test configuration plus a rule for service=billing (owned like checkout): the fix of the reload."""
    document = CONFIG.config.model_dump()
    document["route_rules"].append(
        {"id": "billing", "service": "checkout", "match": [{"label": "service", "op": "=", "value": "billing"}]}
    )
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, "with-billing", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def _marked_after_reload(store: Store, key: str, at: object) -> None:
    """What every router process does when it keeps a configuration it loaded."""
    store.alerts[key] = replace(store.alerts[key], recheck_at=at)  # type: ignore[arg-type]


def test_an_unrouted_alert_pages_once_a_reload_routes_it() -> None:
    store = Store()
    store.run([event("billing-1", service="billing")], T0)
    assert store.last("billing-1").outcome is Outcome.NO_ROUTE and store.pages == []

    store.config = _routing_billing()
    _marked_after_reload(store, "billing-1", T0 + minutes(10))
    store.tick(T0 + minutes(10))

    decision = store.last("billing-1")
    assert decision.kind is DecisionKind.RECHECK and decision.outcome is Outcome.PAGED
    assert decision.reason.startswith("now routable: paged level 1"), decision.reason
    assert decision.explanation["previously_suppressed_by"] == "no_route"
    assert decision.config_version == "with-billing"
    assert {p.user_id for p in store.pages_for(decision.incident_id or "")} == {"alice"}
    assert store.alerts["billing-1"].status is AlertStatus.FIRING and store.alerts["billing-1"].recheck_at is None


def test_an_alert_still_unrouted_after_a_reload_waits_again_without_a_decision() -> None:
    store = Store()
    store.run([event("nowhere-1", service="nowhere")], T0)
    decided = len(store.decisions)

    _marked_after_reload(store, "nowhere-1", T0 + minutes(10))
    store.tick(T0 + minutes(10))

    assert len(store.decisions) == decided and store.pages == []
    alert = store.alerts["nowhere-1"]
    assert (alert.status, alert.suppressed_by, alert.recheck_at) == (
        AlertStatus.SUPPRESSED,
        SuppressedBy.NO_ROUTE,
        None,
    )
    # its next trigger is decided (and recorded) as before
    store.run([event("nowhere-1", service="nowhere", at=T0 + minutes(11))], T0 + minutes(11))
    assert store.last("nowhere-1").outcome is Outcome.NO_ROUTE and len(store.decisions) == decided + 1


def test_an_unrouted_alert_remembers_the_version_that_found_no_route_and_a_recheck_moves_it_on() -> None:
    """The recheck pass leaves an alert to processes on another version than the one that found it unrouted
    (``timers._claim_rechecks``): a replica still refusing a reload took the look the reloaded replicas owed it."""
    store = Store()
    store.run([event("nowhere-1", service="nowhere")], T0)
    assert store.alerts["nowhere-1"].no_route_version == CONFIG.version

    store.config = _routing_billing()  # a reload that routes billing, not "nowhere"
    _marked_after_reload(store, "nowhere-1", T0 + minutes(10))
    store.tick(T0 + minutes(10))
    assert store.alerts["nowhere-1"].no_route_version == "with-billing"
    assert store.alerts["nowhere-1"].recheck_at is None


def test_an_alert_a_reload_routes_into_a_maintenance_window_says_so() -> None:
    """Routed by the reload to a service in maintenance, the alert waited with no decision: its record still said
    "no route" (a resolve then read "it had paged nobody (no_route)"), and ending the window early through the API,
    which makes due the alerts suppressed by maintenance, left it waiting for its next recheck."""
    store = Store()
    store.run([event("billing-1", service="billing")], T0)
    window = store.window("checkout", T0 + minutes(5), T0 + minutes(120))

    store.config = _routing_billing()
    _marked_after_reload(store, "billing-1", T0 + minutes(10))
    store.tick(T0 + minutes(10))

    decision = store.last("billing-1")
    assert decision.kind is DecisionKind.RECHECK and decision.outcome is Outcome.SUPPRESSED, decision.reason
    assert decision.explanation["suppressed_by"] == "maintenance"
    assert decision.explanation["previously_suppressed_by"] == "no_route"
    assert decision.service_id == "checkout" and store.pages == []
    assert store.alerts["billing-1"].suppressed_by is SuppressedBy.MAINTENANCE
    decided = len(store.decisions)
    store.tick(T0 + minutes(11))  # still in the window: looked at again, nothing new to say
    assert len(store.decisions) == decided

    store.end_window(window, T0 + minutes(12))
    store.tick(T0 + minutes(12))
    paged = store.last("billing-1")
    assert paged.outcome is Outcome.PAGED and paged.reason.startswith("maintenance ended: "), paged.reason
