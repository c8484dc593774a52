"""One e-mail contact method is one mailbox: the router refuses a configuration that names several, and the notifier
refuses to send such a page (from a router that did not check), since a list ("a@x, b@y") was sent to every address
in it and the page counted as delivered when any one of them accepted it."""

from __future__ import annotations

from email.utils import parseaddr


def single_mailbox(address: str) -> str | None:
    """The addr-spec of the one mailbox ``address`` names (``Name <a@example.com>`` or ``a@example.com``), or None
    when it names none or several."""
    if any(separator in address for separator in ",;"):
        return None
    _, mailbox = parseaddr(address)
    local, at, domain = mailbox.rpartition("@")
    if not at or not local or not domain or "@" in local or any(c.isspace() for c in mailbox):
        return None
    return mailbox
