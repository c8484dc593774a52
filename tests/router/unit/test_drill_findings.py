"""How a silent drill turns the notifier's provider check into findings (pure): failed or missing providers and an
unanswered check are failures; "not checked" and a router without a notifier are not."""

from __future__ import annotations

from typing import Any

from alertrouter_router.drills import channels_of, with_providers

CHECKS: dict[str, Any] = {
    "levels": [
        {"targets": [{"contact_methods": [{"type": "sms"}, {"type": "webhook"}]}]},
        {"targets": [{"contact_methods": [{"type": "email"}, {"type": "sms"}]}]},
    ],
    "failures": ["level 2 (round 1): nobody on call"],
    "ok": False,
}


def _provider(channel: str, status: str, detail: str = "", provider: str = "-") -> dict[str, Any]:
    return {"channel": channel, "provider": provider, "status": status, "detail": detail, "seconds": 0.0}


def test_the_channels_asked_for_are_those_of_the_chain() -> None:
    assert channels_of(CHECKS) == ["email", "sms", "webhook"]
    assert channels_of({"route": {}}) == []


def test_failed_and_missing_providers_are_failures_not_checked_ones_are_not() -> None:
    providers = {
        "checked_at": "2031-01-01T00:00:00+00:00",
        "providers": [
            _provider("sms", "failed", "twilio: HTTP 401 code 20003: Authenticate", "twilio"),
            _provider("sms", "ok", "account active", "sms-secondary"),
            _provider("email", "not configured", "no SMTP server (NOTIFIER_SMTP_HOST)"),
            _provider("webhook", "not checked", "cannot be checked without posting"),
        ],
    }
    found = with_providers({**CHECKS, "failures": []}, providers)
    assert found["providers"] == providers and found["ok"] is False
    assert found["failures"] == [
        "provider twilio (sms) failed its check: twilio: HTTP 401 code 20003: Authenticate",
        "email: no provider configured: no SMTP server (NOTIFIER_SMTP_HOST)",
    ]


def test_an_unanswered_check_is_a_failure_and_no_notifier_is_not() -> None:
    unanswered = with_providers({**CHECKS, "failures": []}, {"error": "the notifier did not answer (ConnectError)"})
    assert unanswered["failures"] == ["providers not checked: the notifier did not answer (ConnectError)"]
    assert with_providers({**CHECKS, "failures": []}, {"not_checked": "ROUTER_NOTIFIER_URL is not set"})["ok"] is True
    kept = with_providers(CHECKS, {"providers": []})
    assert kept["failures"] == ["level 2 (round 1): nobody on call"] and kept["ok"] is False
