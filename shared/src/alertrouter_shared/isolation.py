"""A consumer batch that cannot be stored, taken apart: what one bad record cannot hold back (router and notifier).

A batch that fails because the database is unavailable is retried whole (TransientError: the consumer loop backs
off and tries again). One that fails for another reason is stored one record at a time, each in its own
transaction, so only the records the database refuses are set aside (the caller dead-letters them) instead of
the batch being retried forever and holding back every record after it on the partition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from aiokafka import ConsumerRecord

from alertrouter_shared.db_errors import is_transient
from alertrouter_shared.errors import TransientError
from alertrouter_shared.logging import bound_context, get_logger

log = get_logger(__name__)

Item = TypeVar("Item")
Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class Refusal(Generic[Item]):
    """One record the database refused: its item, and why (the exception the store raised)."""

    item: Item
    record: Record
    error: BaseException


async def store_isolating(
    decoded: Sequence[tuple[Item, Record]],
    store: Callable[[list[Item]], Awaitable[object]],
    what: str,
    context: Callable[[Item], dict[str, str]] = lambda _: {},
) -> list[Record]:
    """Store ``decoded`` as one batch, else one at a time; returns the records the database refused.

    ``what`` names the records in logs and errors; ``context`` gives the log fields of one item."""
    return [refusal.record for refusal in await refusals_isolating(decoded, store, what, context)]


async def refusals_isolating(
    decoded: Sequence[tuple[Item, Record]],
    store: Callable[[list[Item]], Awaitable[object]],
    what: str,
    context: Callable[[Item], dict[str, str]] = lambda _: {},
) -> list[Refusal[Item]]:
    """``store_isolating``, each refused record with its item and the database's refusal (the router writes a
    decision saying why an alert was not stored)."""
    try:
        await _unless_unavailable(store([item for item, _ in decoded]), what)
        return []
    except _Refused as refused:
        log.warning("batch_retry_isolated", records=what, error=repr(refused.__cause__))
    failed: list[Refusal[Item]] = []
    for item, record in decoded:
        with bound_context(**context(item)):
            try:
                await _unless_unavailable(store([item]), what)
            except _Refused as refused:
                log.error("record_not_stored", records=what, offset=record.offset, exc_info=refused.__cause__)
                failed.append(Refusal(item, record, refused.__cause__ or refused))
    return failed


class _Refused(Exception):
    """The database refused the write for a reason other than being unavailable."""


async def _unless_unavailable(write: Awaitable[object], what: str) -> None:
    try:
        await write
    except TransientError:  # already judged worth retrying (Kafka away while the write published, say)
        raise
    except Exception as exc:
        if is_transient(exc):
            raise TransientError(f"database unavailable while storing {what}: {exc!r}") from exc
        raise _Refused from exc
