"""Route resolution: from an alert's labels (or its integration's bound service) to owner and policy.

Matchers follow Alertmanager's semantics: a missing label reads as the empty string, and regular expressions (RE2
syntax, as Go's) are anchored at both ends. Rules are tried in configuration order, the catch-all last; the first
rule whose matchers all match wins. A rule with ``service_from_label`` also needs that label to name a service (by
id or alias); when it names none, the rule does not match and the next one is tried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import re2

from alertrouter_router.ownership.model import Matcher, OwnershipConfig, RouteRule, Service

FROM_LABEL = "service_from_label"


@dataclass(frozen=True)
class MatcherResult:
    """One matcher of the winning rule and the label value it saw (None when the label is missing).

    A ``service_from_label`` rule reports the label it took the service from as op ``service_from_label``.
    """

    label: str
    op: str
    value: str | None
    actual: str | None


@dataclass(frozen=True)
class RouteMatch:
    """The outcome of route resolution and why; ``service_id`` None means no rule matched."""

    service_id: str | None
    team_id: str | None
    escalation_policy_id: str | None
    rule_id: str | None
    reason: str
    matched: tuple[MatcherResult, ...] = ()
    bound_service: bool = False
    service_label: str | None = None
    service_label_value: str | None = None

    @property
    def matched_labels(self) -> dict[str, str]:
        return {result.label: result.actual for result in self.matched if result.actual is not None}


class BadExpression(ValueError):
    """A route matcher's regular expression RE2 does not accept."""


_RE2 = re2.Options()
_RE2.never_capture = True  # routing asks only whether the whole value matches
_RE2.log_errors = False  # the loader reports a bad expression with its place in the files; RE2 wrote it to stderr


@lru_cache(maxsize=1024)
def anchored(pattern: str) -> Callable[[str], bool]:
    """Whether a whole label value matches ``pattern``, as Alertmanager anchors it (``^(?:pattern)$``).

    RE2, the engine of Alertmanager's Go regexp: the same syntax as the routes users copy from it (inline flags such
    as ``(?i)critical``, no backreferences or lookaround), and matching in time linear in the value. Python's ``re``
    backtracks: one team's ``(.*)*-db`` took seconds per alert on a 30-character label value, and every team's
    alerts waited behind it. The loader compiles each expression with this, so what it accepts is what routing
    compiles; a bad one raises ``BadExpression``."""
    try:
        compiled = re2.compile(pattern, _RE2)  # fullmatch anchors both ends of every alternative
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        raise BadExpression(reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)) from None
    except UnicodeEncodeError:  # RE2 reads UTF-8: YAML's "\ud800" escape loads, and crashed the load
        raise BadExpression("not valid Unicode text (an unpaired UTF-16 surrogate)") from None
    return lambda value: compiled.fullmatch(value) is not None


def matcher_matches(matcher: Matcher, labels: Mapping[str, str]) -> bool:
    actual = labels.get(matcher.label, "")
    if matcher.op == "exists":
        return actual != ""
    if matcher.op == "absent":
        return actual == ""
    value = matcher.value or ""
    if matcher.op == "=":
        return actual == value
    if matcher.op == "!=":
        return actual != value
    found = anchored(value)(actual)
    return found if matcher.op == "=~" else not found


def _describe(rule: RouteRule, results: tuple[MatcherResult, ...], service: Service) -> str:
    if rule.service_from_label is not None:
        value = next(r.actual for r in results if r.op == FROM_LABEL)
        named = "its id" if value == service.id else f"an alias of {service.id!r}"
        taken = f"rule {rule.id!r} took the service from label {rule.service_from_label}={value!r} ({named})"
        others = tuple(r for r in results if r.op != FROM_LABEL)
        return taken + (": " + _conditions(others) if others else "")
    if not results:
        return f"catch-all rule {rule.id!r}"
    return f"rule {rule.id!r} matched: " + _conditions(results)


def _conditions(results: tuple[MatcherResult, ...]) -> str:
    parts = []
    for result in results:
        seen = "absent" if result.actual is None else repr(result.actual)
        expected = "" if result.value is None else f" {result.value!r}"
        parts.append(f"{result.label} {result.op}{expected} (was {seen})")
    return ", ".join(parts)


def _matched(
    service: Service,
    rule: RouteRule | None,
    reason: str,
    results: tuple[MatcherResult, ...] = (),
) -> RouteMatch:
    return RouteMatch(
        service_id=service.id,
        team_id=service.owner_team,
        escalation_policy_id=service.escalation_policy,
        rule_id=rule.id if rule else None,
        reason=reason,
        matched=results,
        bound_service=rule is None,
        service_label=rule.service_from_label if rule else None,
        service_label_value=next((r.actual for r in results if r.op == FROM_LABEL), None),
    )


def _rule_service(
    config: OwnershipConfig, rule: RouteRule, labels: Mapping[str, str]
) -> tuple[Service | None, tuple[MatcherResult, ...]] | None:
    """None when the rule does not match; else its service (None if unknown) and what it matched on."""
    if not all(matcher_matches(matcher, labels) for matcher in rule.match):
        return None
    results = tuple(MatcherResult(m.label, m.op, m.value, labels.get(m.label)) for m in rule.match)
    if rule.service_from_label is None:
        return config.services_by_id.get(rule.service or ""), results
    value = labels.get(rule.service_from_label, "")
    service = config.services_by_name.get(value)
    if service is None:
        return None
    return service, (MatcherResult(rule.service_from_label, FROM_LABEL, None, value), *results)


def resolve_route(
    config: OwnershipConfig,
    labels: Mapping[str, str],
    bound_service: str | None,
    integration_id: str | None = None,
) -> RouteMatch:
    """The service for an alert: the integration's bound service if any, else the first matching rule.

    Ingest binds an event to a service under the configuration *it* serves, and it loads the files on its own
    schedule (and checks only the integrations, so it takes a change the router refuses). A bound service this
    configuration does not have (renamed, not yet known here, in a refused configuration) was a "no route" for
    every event of the integration until both agreed again, and an alarm its source sends once was never paged.
    Given the event's ``integration_id``, such an event is routed as this configuration routes that integration's
    events: its bound service here, else the rules; the reason names the binding that was not used.
    """
    stale = ""
    if bound_service is not None:
        service = config.services_by_id.get(bound_service)
        if service is not None:
            return _matched(service, None, f"integration is bound to service {bound_service!r}")
        if integration_id is None:
            return RouteMatch(None, None, None, None, f"integration bound to unknown service {bound_service!r}")
        stale = f"the event's bound service {bound_service!r} is not in this configuration; "
        integration = config.integrations_by_id.get(integration_id)
        rebound = config.services_by_id.get(integration.service or "") if integration is not None else None
        if rebound is not None:
            return _matched(rebound, None, f"{stale}integration {integration_id!r} is bound to service {rebound.id!r}")
    found = _by_rules(config, labels)
    return replace(found, reason=stale + found.reason) if stale else found


def route_again(config: OwnershipConfig, labels: Mapping[str, str], integration_id: str | None) -> RouteMatch:
    """How this configuration routes the integration's alerts now: its binding here, else the rules, for an
    incident whose service a reload removed. By its labels alone, an incident of a bound integration (a CloudWatch
    alarm, a heartbeat: labels no rule matches, its route came from the binding) was routed nowhere and nobody was
    paged again."""
    integration = config.integrations_by_id.get(integration_id or "")
    return resolve_route(config, labels, integration.service if integration else None, integration_id)


def _by_rules(config: OwnershipConfig, labels: Mapping[str, str]) -> RouteMatch:
    named_none = ""  # a service_from_label rule whose conditions held, but whose label named no service
    for rule in config.ordered_route_rules:
        found = _rule_service(config, rule, labels)
        if found is None:
            named_none = named_none or _names_no_service(rule, labels)
            continue
        service, results = found
        if service is None:
            return RouteMatch(None, None, None, rule.id, f"rule {rule.id!r} routes to unknown service")
        return _matched(service, rule, _describe(rule, results, service), results)
    return RouteMatch(None, None, None, None, "no route rule matched and there is no catch-all rule" + named_none)


def _names_no_service(rule: RouteRule, labels: Mapping[str, str]) -> str:
    """Why nobody was paged for ``service=chekout`` (a typo, a service not configured yet): "no rule matched" left
    the reader to find the rule that takes the service from the label and compare the value with every id and
    alias."""
    if rule.service_from_label is None or not all(matcher_matches(m, labels) for m in rule.match):
        return ""
    value = labels.get(rule.service_from_label, "")
    label = f"label {rule.service_from_label}={value!r} names" if value else f"label {rule.service_from_label} is"
    what = "no service (by id or alias)" if value else "missing"
    return f"; rule {rule.id!r} takes the service from label {rule.service_from_label}, and {label} {what}"
