"""The people of the ownership configuration: teams, users, where to reach them and when.

Contact destinations that are credentials are read from the environment or a file when the configuration loads.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import Field, model_validator

from alertrouter_router.ownership.timespec import StrictModel, TimeZoneName
from alertrouter_shared.events import ContactMethodType
from alertrouter_shared.integrations import Identifier
from alertrouter_shared.mailbox import single_mailbox


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_HasId = TypeVar("_HasId", bound=_Identified)


def first_by_id(items: Sequence[_HasId]) -> dict[str, _HasId]:
    """First definition wins, so a duplicate id (reported as an error) does not cascade into others."""
    found: dict[str, _HasId] = {}
    for item in items:
        found.setdefault(item.id, item)
    return found


class Team(StrictModel):
    id: Identifier
    name: str
    members: list[str] = Field(default_factory=list)
    description: str = ""


class ContactMethodSpec(StrictModel):
    """Where to reach a person. Destinations that are credentials (Slack and Teams webhook URLs) are referenced
    rather than written here: ``address_env`` names an environment variable and ``address_file`` a file (e.g. a
    mounted Secret), both read when the configuration is loaded or reloaded, so ``address`` always holds the
    destination the page will carry."""

    id: Identifier
    type: ContactMethodType
    address: Annotated[str, Field(min_length=1)] = ""  # filled from address_env / address_file when given
    address_env: str | None = Field(None, description="environment variable holding the address")
    address_file: str | None = Field(None, description="file holding the address, e.g. a mounted Secret")

    @model_validator(mode="before")
    @classmethod
    def _resolve_reference(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = [key for key in ("address", "address_env", "address_file") if data.get(key)]
        if len(given) != 1:
            raise ValueError("a contact method has exactly one of address, address_env or address_file")
        if given[0] == "address_env":
            return {**data, "address": _from_environment(str(data["address_env"]))}
        if given[0] == "address_file":
            return {**data, "address": _from_file(str(data["address_file"]))}
        if isinstance(data["address"], str):  # as the references' values are (a YAML block scalar ends in a newline)
            return {**data, "address": data["address"].strip()}
        return data

    @model_validator(mode="after")
    def _one_mailbox(self) -> ContactMethodSpec:
        control = next((i for i, c in enumerate(self.address) if unicodedata.category(c) == "Cc"), None)
        if control is not None:  # the address is not quoted: it may be a credential or a person's number
            raise ValueError(
                f"contact method {self.id!r}: the address has a control character (a line break?) at position "
                f"{control + 1}: an e-mail's headers would end there, a URL or a number would not be sent"
            )
        if self.type is ContactMethodType.EMAIL and single_mailbox(self.address) is None:
            raise ValueError(
                f"contact method {self.id!r}: an email address names exactly one mailbox (a@example.com); "
                "for several people, give each a contact method of their own"
            )
        return self


def _from_environment(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(f"address_env: environment variable {name!r} is not set or empty")
    return value


def _from_file(path: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"address_file: cannot read {path!r}: {exc.strerror or exc}") from exc
    if not value:
        raise ValueError(f"address_file: {path!r} is empty")
    return value


class NotificationRule(StrictModel):
    """Send to ``contact_method`` this many minutes after the user is selected for a page."""

    contact_method: str
    delay_minutes: Annotated[int, Field(ge=0, le=1440)] = 0


class User(StrictModel):
    id: Identifier
    name: str
    time_zone: TimeZoneName
    contact_methods: list[ContactMethodSpec] = Field(default_factory=list)
    notification_rules: list[NotificationRule] = Field(default_factory=list)
    status_updates: bool = Field(
        True, description="told when an incident they were paged for is acknowledged, resolved or escalated"
    )
    shift_reminders: bool = Field(
        True, description="told before each on-call shift starts, and when an override puts them on call"
    )
    shift_reminder_minutes: Annotated[int, Field(ge=0, le=10080)] = Field(
        60, description="how long before a shift starts the reminder goes out; 0 sends none"
    )
    shift_reminder_contact_method: str | None = Field(
        None,
        description="the contact method for shift reminders (not voice); by default the first Slack or Teams "
        "method, else the first email",
    )

    @cached_property
    def contact_methods_by_id(self) -> dict[str, ContactMethodSpec]:
        return first_by_id(self.contact_methods)
