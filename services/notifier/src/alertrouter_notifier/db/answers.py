"""Answers act once: a person's SMS reply, key press or Slack click is claimed by the provider's id of the request
before it acts, so the same signed request sent again -- a provider's retry, or a replay by someone who captured it
(Twilio's signature covers no time at all, Slack's five minutes) -- changes nothing the second time.

A claim is kept ``KEEP`` (a week), then deleted (``prune``, hourly, by the retry worker): the table grew by a row per
answer for ever. A provider's retry comes within minutes and Slack refuses its own requests after five; only a
captured Twilio request has no end, so the week is the horizon within which such a replay is still refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.db.tables import answer

MAX_KEY_CHARS = 128
KEEP = timedelta(days=7)


def answer_key(kind: str, request_id: str) -> str:
    return f"{kind}:{request_id}"[:MAX_KEY_CHARS]


async def claim(engine: AsyncEngine, key: str, now: datetime) -> bool:
    """True the first time ``key`` is claimed; False for a request already acted on (or being acted on)."""
    statement = insert(answer).values(key=key, received_at=now).on_conflict_do_nothing().returning(answer.c.key)
    async with engine.begin() as conn:
        return (await conn.execute(statement)).first() is not None


async def release(engine: AsyncEngine, key: str) -> None:
    """Give a claim back: the request changed nothing (the router was not reached), and the person may repeat it."""
    async with engine.begin() as conn:
        await conn.execute(delete(answer).where(answer.c.key == key))


async def prune(engine: AsyncEngine, now: datetime) -> int:
    """Delete the claims received more than ``KEEP`` before ``now``; returns how many."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(answer).where(answer.c.received_at < now - KEEP))
    return result.rowcount
