"""Which providers serve which channel, in failover order, built from settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alertrouter_notifier.channels.base import Provider
from alertrouter_shared.events import ContactMethodType


class ChannelSet:
    def __init__(self, providers: Mapping[ContactMethodType, Sequence[Provider]]) -> None:
        self._providers = {channel: list(items) for channel, items in providers.items() if items}

    def providers(self, channel: ContactMethodType) -> list[Provider]:
        return self._providers.get(channel, [])

    def configured(self) -> list[ContactMethodType]:
        return list(self._providers)

    async def aclose(self) -> None:
        for items in self._providers.values():
            for provider in items:
                await provider.aclose()
