"""Is a database failure worth retrying? One answer for every service, whichever driver layer raised it.

Judged by SQLSTATE class (08 connection, 40 transaction rollback such as a deadlock or serialization failure,
53 insufficient resources, 57P admin shutdown / cannot connect now, 58 I/O error), by the states that say the
server cannot take a write now (``READ_ONLY``: connected to a standby, as during a failover; a statement or lock
timeout, an operator's cancel, an idle transaction ended), and by the transport errors that mean the server went
away; the exception chain is walked because SQLAlchemy wraps asyncpg's errors. Shared code imports no database
library, so classes are recognised by their SQLSTATE and names.

Whatever is not transient is taken for a refusal of the data written: a consumer batch is then stored one record
at a time and what fails is dead-lettered (``isolation``), so a state of the whole server listed here as not
transient would dead-letter every alert or page that meets it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from alertrouter_shared.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")

READ_ONLY = "25006"  # read_only_sql_transaction
_TRANSIENT_SQLSTATE_PREFIXES = (
    "08",
    "40",
    "53",
    "57P",
    "58",
    READ_ONLY,
    "25P03",  # idle_in_transaction_session_timeout
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout, pg_cancel_backend)
)
_TRANSIENT_NAMES = frozenset(
    {
        "ConnectionDoesNotExistError",
        "InterfaceError",
        "InternalClientError",
        "PoolTimeoutError",
        "TimeoutError",
        "OperationalError",
        "CannotConnectNowError",
        "TooManyConnectionsError",
    }
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__
    return seen


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (asyncpg's or SQLAlchemy's wrapping of it), else None."""
    for item in _chain(exc):
        state = getattr(item, "sqlstate", None) or getattr(item, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def is_transient(exc: BaseException) -> bool:
    for item in _chain(exc):
        if isinstance(item, OSError | TimeoutError | ConnectionError):
            return True
        if getattr(item, "connection_invalidated", False):
            return True
        state = getattr(item, "sqlstate", None) or getattr(item, "pgcode", None)
        if isinstance(state, str) and state.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
            return True
        if type(item).__name__ in _TRANSIENT_NAMES:
            return True
    return False


# 22021 character_not_in_repertoire (a NUL in a text parameter), 22P05 untranslatable_character (\u0000 in jsonb).
_UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


def is_unstorable_text(exc: BaseException) -> bool:
    """A value PostgreSQL refuses to store or compare: a NUL character (U+0000) a caller put in a query parameter,
    a path or a note. The caller's to correct (4xx), not a failure of the service."""
    return sqlstate(exc) in _UNSTORABLE_TEXT_SQLSTATES


async def retry_transient(call: Callable[[], Awaitable[T]], attempts: int, what: str) -> T:
    """``call``, tried again after a transient database failure (0.2 s, 0.4 s, ... between tries): for a request
    whose sender does not retry one answered with an error (Twilio's callbacks and inbound messages)."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            log.warning("database_retry", what=what, attempt=attempt, error=type(exc).__name__)
            await asyncio.sleep(0.2 * attempt)
    raise AssertionError("unreachable")
