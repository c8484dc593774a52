"""Two roots for failures: adapters translate library exceptions into one of them at the boundary."""

from __future__ import annotations


class TransientError(Exception):
    """Worth retrying: the dependency may recover (timeouts, 5xx, broker unavailable, rate limits)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying cannot help (malformed record, invalid number, unknown channel)."""
