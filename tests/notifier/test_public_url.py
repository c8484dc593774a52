"""NOTIFIER_PUBLIC_URL left at its loopback default: refused with a real Twilio account, a warning otherwise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
import structlog.testing

from alertrouter_notifier.public_url import PublicUrlError, check_public_url, is_loopback
from alertrouter_notifier.settings import NotifierSettings

REAL_TWILIO = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "token"}


def settings(**values: Any) -> NotifierSettings:
    return NotifierSettings.model_validate(values)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8082", True),
        ("http://localhost:8082", True),
        ("http://[::1]:8082", True),
        ("http://127.1.2.3", True),
        ("https://notify.example.com", False),
        ("http://10.0.0.5:8082", False),
        ("", False),
    ],
)
def test_loopback_addresses(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_a_real_twilio_account_with_a_loopback_public_url_is_refused() -> None:
    with pytest.raises(PublicUrlError, match=re.escape("NOTIFIER_PUBLIC_URL is http://127.0.0.1:8082")) as refused:
        check_public_url(settings(**REAL_TWILIO))
    assert "Twilio voice calls" in str(refused.value) and "SMS status callbacks" in str(refused.value)
    secondary = settings(sms_secondary_base_url="https://api.example-sms.com", sms_secondary_account_sid="AC1")
    with pytest.raises(PublicUrlError, match="secondary SMS provider"):
        check_public_url(secondary)
    check_public_url(settings(**REAL_TWILIO, public_url="https://notify.example.com"))  # reachable: fine


@pytest.mark.parametrize(
    "values",
    [
        {},  # nothing posts back to us; ack links are the only use
        {**REAL_TWILIO, "twilio_base_url": "http://127.0.0.1:18099"},  # a local stand-in (tests, make dev)
        {"slack_signing_secret": "s", "ack_signing_secret": "a"},
    ],
)
def test_a_loopback_public_url_is_a_warning_otherwise(values: dict[str, Any]) -> None:
    with structlog.testing.capture_logs() as logs:
        check_public_url(settings(**values))
    warnings = [line for line in logs if line["event"] == "public_url_loopback"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    assert "NOTIFIER_PUBLIC_URL" in warnings[0]["hint"] and "notifier.publicUrl" in warnings[0]["hint"]
    with structlog.testing.capture_logs() as logs:
        check_public_url(settings(**values, public_url="https://notify.example.com"))
    assert logs == []


def test_the_notifier_process_refuses_to_start_before_connecting_anything() -> None:
    """The CLI exits 2 with the reason, at once: no broker or database is there to reach."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/none",
        "NOTIFIER_TWILIO_ACCOUNT_SID": REAL_TWILIO["twilio_account_sid"],
        "NOTIFIER_TWILIO_AUTH_TOKEN": "token",
        "NOTIFIER_PORT": "0",
        "LOG_FORMAT": "json",
    }
    env.pop("NOTIFIER_PUBLIC_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "alertrouter_notifier", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "NOTIFIER_PUBLIC_URL is http://127.0.0.1:8082" in done.stderr
    assert "public_url_unreachable" in done.stdout
