"""The decision for an alert event the database refused to store: nobody was paged, and this says why.

A refused event is dead-lettered (``pipeline.handle_alert_batch``); without a decision, ``GET /v1/decisions``,
``alertrouter why`` and the console's Why page knew nothing of it. The refusal may be what breaks this insert too
(a NUL character, a value longer than its column), so what the decision stores is made storable here: NULs and
unencodable characters dropped, each column's value cut to its size. The database's message is redacted (phone
numbers, e-mail addresses, credentials) and cut short: it may quote the value it refused.
"""

from __future__ import annotations

import re
from typing import Any

from alertrouter_router.decisions import Decision, DecisionKind, Outcome, derived_id, event_explanation
from alertrouter_router.decisions.alerts import routing_integration
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.routing import resolve_route
from alertrouter_shared.events import AlertEvent
from alertrouter_shared.redaction import redact

# the sizes of router_decision's columns (db/tables.py; tests/router/unit/test_not_stored.py holds them equal)
DEDUP_KEY_CHARS = 512
NAME_CHARS = 128  # service_id, team_id, policy_id
CONFIG_VERSION_CHARS = 64
REFUSAL_CHARS = 300  # of the database's message, in the reason and the explanation

_CREDENTIALS_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE)
_SECRET_FIELD = re.compile(  # key=value, key: value, "key": "value", key value; a bearer token whole
    r"\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)\b(\"?\s*[=:]\s*|\s+)"
    r"((?:bearer\s+)?(?:\"[^\"]*\"|'[^']*'|[^\s,;}]+))",
    re.IGNORECASE,
)


def storable(text: str) -> str:
    """``text`` as PostgreSQL stores it: without NUL characters (text and jsonb refuse them) and lone surrogates."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _fit(text: str | None, chars: int) -> str | None:
    return None if text is None else storable(text)[:chars]


def _storable_json(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): _storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_json(v) for v in value]
    return value


def refusal_text(error: BaseException) -> str:
    """The database's refusal in one short line: its kind, SQLSTATE and message, with no secret, phone number or
    e-mail address in full (a refused value may be quoted in it)."""
    sqlstate = getattr(error, "sqlstate", None)
    kind = type(error).__name__ + (f" (SQLSTATE {sqlstate})" if isinstance(sqlstate, str) and sqlstate else "")
    message = " ".join(storable(str(error))[: REFUSAL_CHARS * 8].split())
    message = _SECRET_FIELD.sub(r"\1\2[redacted]", _CREDENTIALS_IN_URL.sub(r"\1***@", message))
    text = redact(f"{kind}: {message}" if message else kind)
    return text if len(text) <= REFUSAL_CHARS else text[: REFUSAL_CHARS - 1] + "…"


def not_stored_decision(
    event: AlertEvent, error: BaseException, dead_letter_topic: str, config: LoadedConfig
) -> Decision:
    """The decision for ``event``, which the database refused with ``error`` and which was dead-lettered to
    ``dead_letter_topic``. Its id is derived from the event's, so a redelivery writes it once; its ``event_id``
    column stays empty, for that column marks an event decided and the event replayed from the dead-letter topic
    once mended must be decided then."""
    route = resolve_route(config.config, event.labels, event.bound_service, routing_integration(event))
    refusal = refusal_text(error)
    reason = (
        f"could not be stored, so nobody was paged: the database refused it ({refusal}); the event was sent to the "
        f"dead-letter topic {dead_letter_topic}, to be mended and replayed"
    )
    explanation = event_explanation(event, route, config.version) | {
        "not_stored": {"error": refusal, "dead_letter_topic": dead_letter_topic}
    }
    return Decision(
        id=derived_id("not-stored", str(event.event_id)),
        outcome=Outcome.NOT_STORED,
        reason=storable(reason),
        kind=DecisionKind.EVENT,
        dedup_key=_fit(event.dedup_key, DEDUP_KEY_CHARS),
        service_id=_fit(route.service_id, NAME_CHARS),
        team_id=_fit(route.team_id, NAME_CHARS),
        policy_id=_fit(route.escalation_policy_id, NAME_CHARS),
        config_version=_fit(config.version, CONFIG_VERSION_CHARS),
        explanation=_storable_json(explanation),
    )
