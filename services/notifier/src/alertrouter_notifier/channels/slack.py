"""Slack: incoming webhooks (the contact address is the hook URL) and ``chat.postMessage`` (the address is a
user, DM or channel id, sent with the bot token).

Messages posted with the bot token carry real acknowledge/resolve buttons when interactivity is configured
(``NOTIFIER_SLACK_SIGNING_SECRET``; the clicks arrive at api/slack_interactions.py). An "acknowledged", "resolved" or
"escalated" notice for an incident whose page this contact method already got in Slack updates that message in place
(``chat.update``) instead of posting another one, whoever changed the incident; when that message was deleted or
may no longer be edited, the notice is posted as a new message. Incoming webhooks answer errors as
plain-text bodies with 4xx/5xx statuses and keep link buttons (there is no message id to update).

Such a notice (``edits_in_place``) is let past the notices flood budget at admission when its trigger's message
exists or is on its way (intake.py): an edit posts nothing new, and Slack's rate limit on ``chat.update`` (429 with
Retry-After) is a transient failure, retried after the time Slack asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

import httpx

from alertrouter_notifier.channels.base import Links, Outgoing, Receipt, SendPermanentError
from alertrouter_notifier.channels.http import raise_for_http_status, transport_errors
from alertrouter_notifier.channels.slack_api import SlackApi
from alertrouter_notifier.rendering.slack import Handled, slack_message
from alertrouter_shared.events import ContactMethodType, Page, PageKind
from alertrouter_shared.logging import get_logger

PreviousMessage = Callable[[Page], Awaitable["SentMessage | None"]]
NOTICES = frozenset({PageKind.ACKNOWLEDGED, PageKind.RESOLVED, PageKind.ESCALATED})
# chat.update's answers when the page's message is gone (deleted in Slack) or may no longer be edited: the notice
# is then posted as a message of its own, not failed (nobody would learn of the change).
UNEDITABLE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
log = get_logger(__name__)


def is_incoming_webhook(address: str) -> bool:
    return address.strip().startswith(("https://", "http://"))


def edits_in_place(page: Page) -> bool:
    """Whether ``page`` is a Slack notice meant to update its trigger's message (sent with the bot token) rather
    than to post a message of its own: an incoming webhook has no message to update."""
    return (
        page.kind in NOTICES
        and page.contact_method.type is ContactMethodType.SLACK
        and not is_incoming_webhook(page.contact_method.address)
    )


class SentMessage(NamedTuple):
    ref: str
    page: Page


class SlackProvider:
    name = "slack"

    def __init__(
        self,
        client: httpx.AsyncClient,
        api: SlackApi,
        *,
        interactive: bool = False,
        previous: PreviousMessage | None = None,
    ) -> None:
        self._client = client
        self._api = api
        self._interactive = interactive
        self._previous = previous

    async def send(self, outgoing: Outgoing) -> Receipt:
        page = outgoing.page
        address = page.contact_method.address.strip()
        if is_incoming_webhook(address):
            return await self._incoming_webhook(address, slack_message(page, outgoing.links))
        earlier = await self._previous(page) if self._previous and page.kind in NOTICES else None
        if earlier is not None:
            try:
                return await self._update(earlier, page, outgoing.links)
            except SendPermanentError as exc:
                if exc.status_code not in UNEDITABLE:
                    raise
                log.info("slack_notice_posted_anew", reason=exc.status_code)
        message = slack_message(page, outgoing.links, interactive=self._interactive)
        return Receipt(provider_message_id=await self._api.post_message(address, message), provider_status_code="ok")

    async def _update(self, earlier: SentMessage, page: Page, links: Links) -> Receipt:
        handled = Handled(page.kind, note=page.status_note)
        kept = Links(incident=links.incident)  # the earlier message's actions are over; not its incident
        message = slack_message(earlier.page, kept, interactive=self._interactive, handled=handled)
        await self._api.update(earlier.ref, message)
        return Receipt(provider_message_id=earlier.ref, provider_status_code="updated")

    async def _incoming_webhook(self, url: str, message: dict[str, object]) -> Receipt:
        async with transport_errors("slack-webhook"):
            response = await self._client.post(url, json=message)
        raise_for_http_status("slack-webhook", response)
        return Receipt(provider_status_code=str(response.status_code))

    async def aclose(self) -> None:
        """The HTTP client is closed by its owner."""
