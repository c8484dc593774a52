"""Who is calling: every API token belongs to a person of the ownership configuration or a named machine client.

A person's rights are their token's role, limited to the teams the configuration lists them in (read at every
request, so moving someone between teams needs no new token). Machine clients have no teams: they are viewers or
admins in practice. The bootstrap entries of ``ALERTROUTER_API_TOKENS`` (``<sha256>:read+write``) are machine
clients: ``read+write`` is an admin that may act as a named person (``act_as``: the notifier acknowledging for the
person who pressed a button), ``read`` a viewer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_shared.auth import Scope, TokenEntry

TOKEN_PREFIX = "art_"  # noqa: S105  # recognisable in a secret scanner; the rest is 32 random bytes


class Role(StrEnum):
    VIEWER = "viewer"
    RESPONDER = "responder"
    TEAM_ADMIN = "team_admin"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True)
class Principal:
    """The identity behind a request's token."""

    role: Role
    user_id: str | None = None  # a person, or
    client: str | None = None  # a machine client
    teams: frozenset[str] = frozenset()
    act_as: bool = False
    token_id: str | None = None

    @property
    def actor(self) -> str:
        """What the audit trail and the decision record name: the user id, or ``client:<name>``."""
        return self.user_id if self.user_id is not None else f"client:{self.client}"

    def describe(self) -> str:
        who = f"user {self.user_id}" if self.user_id is not None else f"client {self.client}"
        teams = ", ".join(sorted(self.teams)) or "no team"
        return f"{who} ({self.role.value}; teams: {teams})"


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def teams_of(config: OwnershipConfig, user_id: str) -> frozenset[str]:
    return frozenset(team.id for team in config.teams if user_id in team.members)


BOOTSTRAP_ACTOR_PREFIX = "client:bootstrap-"


def bootstrap_principal(entry: TokenEntry) -> Principal:
    """A configured ``ALERTROUTER_API_TOKENS`` entry: an admin machine client (read+write) or a viewer (read)."""
    writes = Scope.WRITE in entry.scopes
    client = BOOTSTRAP_ACTOR_PREFIX.removeprefix("client:") + entry.digest[:8]
    return Principal(role=Role.ADMIN if writes else Role.VIEWER, client=client, act_as=writes)
