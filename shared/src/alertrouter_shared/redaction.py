"""Masks phone numbers and e-mail addresses inside free text (provider errors, log fields, API output).

Providers quote the recipient in their errors (Twilio 21211: "The 'To' number +44... is not a valid phone
number"), so every error is passed through ``redact`` before it is logged, stored or published, and again when
the delivery records are read (rows written by older versions). The router passes the database's refusal of an
alert through it before a decision stores it (a value quoted in the error may be personal).
"""

from __future__ import annotations

import re

from alertrouter_shared.logging import mask

# "+" and 6-15 digits, grouped by spaces, dots, dashes or parentheses ("+1 (555) 123-4567", "+1 - 555 - 123");
# or 9-16 digits so grouped, the first maybe in parentheses ("(555) 123-4567")
_PHONE = re.compile(r"\+\d(?:[\s().-]{0,3}\d){5,15}|(?<![\w.(])\(?\d(?:[\s().-]{0,2}\d){8,15}(?![\w.])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _mask_email(match: re.Match[str]) -> str:
    local, _, domain = match.group(0).rpartition("@")
    return f"{local[:1]}***@{domain}"


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return ("+" if match.group(0).startswith("+") else "") + mask(digits)


def redact(text: str) -> str:
    """``text`` with every e-mail address and phone number masked (the last digits and the domain stay)."""
    return _PHONE.sub(_mask_phone, _EMAIL.sub(_mask_email, text))


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)
