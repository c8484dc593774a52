"""A silent drill's "providers reachable" item: the router asks the notifier, which owns the providers' credentials,
to run each provider's own check (``POST /v1/providers/check``) for the channels the chain would page through.

The answer is what the drill report shows, per provider: ok, failed with a masked reason, not configured, or not
checked (a webhook URL cannot be checked without posting). A router without ``ROUTER_NOTIFIER_URL`` says so
instead of pretending; a notifier that does not answer is a finding of the drill, never an exception.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from alertrouter_router.settings import RouterSettings
from alertrouter_shared.logging import get_logger
from alertrouter_shared.provider_check import ProviderCheckReport

log = get_logger(__name__)
CHECK_PATH = "/v1/providers/check"


async def check(settings: RouterSettings, channels: list[str]) -> dict[str, Any]:
    """The providers' check as the report shows it: ``{"checked_at", "providers": [...]}`` or ``{"error": ...}``
    (a finding), or ``{"not_checked": ...}`` when no notifier is configured."""
    if not settings.notifier_url:
        return {"not_checked": "ROUTER_NOTIFIER_URL is not set: provider reachability was not checked"}
    if not channels:
        return {"providers": []}
    url = settings.notifier_url.rstrip("/") + CHECK_PATH
    token = settings.notifier_api_token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with httpx.AsyncClient(timeout=settings.provider_check_timeout_seconds) as client:
            response = await client.post(url, json={"channels": channels}, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("provider_check_failed", error=type(exc).__name__)
        return {"error": f"the notifier did not answer ({type(exc).__name__})"}
    if response.status_code != 200:
        log.warning("provider_check_refused", status=response.status_code)
        return {"error": f"the notifier answered HTTP {response.status_code}"}
    try:
        report = ProviderCheckReport.model_validate_json(response.content)
    except ValidationError:
        return {"error": "the notifier's answer is not a provider check report"}
    return report.model_dump(mode="json")
