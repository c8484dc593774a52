"""What the Twilio REST providers (Messages and Calls) share: account URLs, credentials and error classification.

Error policy (FORMATS §5): 429 and 5xx are retried (a 5xx or a timeout may still have sent the message: for paging
a duplicate beats a miss); errors about the recipient (invalid or unreachable number, opted out) are permanent and
no other provider would do better; errors about our account or sender (authentication, From not capable) are
permanent for this provider but worth a failover provider. Error texts quote the number, so they are redacted.
"""

from __future__ import annotations

import httpx

from alertrouter_notifier.channels.base import SendPermanentError, SendTransientError, parse_retry_after
from alertrouter_notifier.channels.http import RETRYABLE_STATUS, short_body, transport_errors
from alertrouter_shared.redaction import redact

# Invalid To, not SMS/voice capable, unreachable, opted out, invalid phone number for calls
RECIPIENT_ERRORS = frozenset({21211, 21214, 21217, 21610, 21612, 21614, 13223, 13224})


def account_url(base_url: str, account_sid: str, resource: str) -> str:
    return f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/{resource}.json"


def credentials(account_sid: str, api_key_sid: str, auth_token: str) -> tuple[str, str]:
    """HTTP basic credentials: an API key with its secret, or the account SID with its auth token."""
    return (api_key_sid or account_sid, auth_token)


async def check_account(
    client: httpx.AsyncClient, provider: str, base_url: str, auth: tuple[str, str], sid: str
) -> str:
    """Twilio's own credentials check, sending nothing: fetch the account (``GET /2010-04-01/Accounts/{sid}.json``).
    An account that is not active (suspended, closed) fails the check too."""
    url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{sid}.json"
    async with transport_errors(provider):
        response = await client.get(url, auth=auth)
    if response.status_code != 200:
        raise twilio_error(provider, response)
    status = str(response.json().get("status", "unknown"))
    if status != "active":
        raise SendPermanentError(f"{provider}: the account is {status}", status_code=status)
    return "account active"


def created_sid(response: httpx.Response) -> str | None:
    """The sid of the message or call a 2xx answer created; None when its body does not carry one readably (a
    compatible API's empty or non-JSON answer). The message was accepted all the same: reading the body raised, and
    the accepted message was sent again on every retry until the deadline."""
    try:
        body = response.json()
    except ValueError:
        return None
    sid = body.get("sid") if isinstance(body, dict) else None
    return sid if isinstance(sid, str) and sid else None


def twilio_error(provider: str, response: httpx.Response) -> SendTransientError | SendPermanentError:
    code, message = _error_body(response)
    status = str(code or response.status_code)
    detail = redact(f"{provider}: HTTP {response.status_code} code {code}: {message}")
    if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
        return SendTransientError(
            detail, status_code=status, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    return SendPermanentError(detail, status_code=status, failover=code not in RECIPIENT_ERRORS)


def _error_body(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, short_body(response)
    if not isinstance(body, dict):
        return None, short_body(response)
    code = body.get("code")
    return (code if isinstance(code, int) else None), str(body.get("message", ""))
