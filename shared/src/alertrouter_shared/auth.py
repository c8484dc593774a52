"""Bearer API tokens with scopes, stored only as SHA-256 hashes.

A token entry is ``<sha256 hex of the token>:<scope>+<scope>`` (scopes ``read``, ``write``); several entries are
comma- or newline-separated, in ``ALERTROUTER_API_TOKENS`` or in the file named by ``ALERTROUTER_API_TOKENS_FILE``.
Comparison is constant-time over the hash. The router also keeps tokens of people and machine clients in its
database (same SHA-256 hashing); these configured entries are its bootstrap machine clients.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class TokenEntry:
    digest: str
    scopes: frozenset[Scope]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token_entries(text: str) -> list[TokenEntry]:
    entries: list[TokenEntry] = []
    for raw in text.replace("\n", ",").split(","):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        digest, _, scopes = item.partition(":")
        if len(digest) != 64 or not scopes:
            raise ValueError("API token entries must look like '<sha256 hex>:read+write'")
        entries.append(TokenEntry(digest.lower(), frozenset(Scope(s) for s in scopes.split("+"))))
    return entries


def load_token_entries(inline: str, file: str | None) -> list[TokenEntry]:
    text = inline
    if file:
        text += "\n" + Path(file).read_text()
    return parse_token_entries(text)


def entry_for(token: str, entries: list[TokenEntry]) -> TokenEntry | None:
    """The entry a presented token matches, or None (every entry is compared, in constant time each)."""
    digest = hash_token(token)
    found: TokenEntry | None = None
    for entry in entries:
        if hmac.compare_digest(entry.digest, digest):
            found = entry
    return found


def scopes_for(token: str, entries: list[TokenEntry]) -> frozenset[Scope] | None:
    """The scopes a presented token grants, or None when it matches no entry."""
    entry = entry_for(token, entries)
    return None if entry is None else entry.scopes
