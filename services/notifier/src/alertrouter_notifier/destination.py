"""How a destination is shown (masked) and how it is identified for flood protection."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from alertrouter_shared.events import ContactMethod, ContactMethodType
from alertrouter_shared.logging import mask


def mask_destination(contact: ContactMethod) -> str:
    """Enough to recognise the destination in a timeline, never enough to reuse it (webhook URLs are credentials)."""
    address = contact.address.strip()
    if address.startswith(("http://", "https://")):
        scheme = address.split(":", 1)[0]
        try:
            return f"{scheme}://{urlsplit(address).hostname}/***"
        except ValueError:  # not a URL the parser takes (an unclosed IPv6 bracket): the send fails, not the masking
            return f"{scheme}://***"
    if contact.type is ContactMethodType.EMAIL and "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    return mask(address)


def throttle_key(contact: ContactMethod) -> str:
    """One flood window per real destination, whatever contact method ids point at it."""
    normalised = f"{contact.type.value}:{contact.address.strip().lower()}"
    return hashlib.sha256(normalised.encode()).hexdigest()
