"""Which providers serve which channel, in failover order, built from settings, and the HTTP clients they use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from alertrouter_notifier.channels.base import Provider
from alertrouter_shared.events import ContactMethodType


class ChannelSet:
    def __init__(
        self, providers: Mapping[ContactMethodType, Sequence[Provider]], clients: Sequence[httpx.AsyncClient] = ()
    ) -> None:
        self._providers = {channel: list(items) for channel, items in providers.items() if items}
        self._clients = list(clients)

    def providers(self, channel: ContactMethodType) -> list[Provider]:
        return self._providers.get(channel, [])

    def configured(self) -> list[ContactMethodType]:
        return list(self._providers)

    async def aclose(self) -> None:
        for items in self._providers.values():
            for provider in items:
                await provider.aclose()
        for client in self._clients:
            await client.aclose()
