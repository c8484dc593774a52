"""Ending, unsent, the pages an incident's acknowledgement or resolution made pointless (``intake`` decides which).

One statement, inside the admission's transaction: the deliveries of the given incidents and kinds still waiting
(``pending``, which includes not yet due, or ``retrying``) become ``cancelled`` with the reason as their error, and
each gets an attempt row (the outbox of the deliveries topic), as every final outcome does. A delivery being sent
(``sending``) is left alone: a send in flight cannot be called back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# The rows are locked in id order first (FOR UPDATE), so two admissions ending the same incident never deadlock;
# a row claimed meanwhile is re-checked under its lock and found ``sending``, so it is left to its send.
_CANCEL = text(
    """
WITH ends AS (
    SELECT * FROM unnest(CAST(:incidents AS text[]), CAST(:errors AS text[]), CAST(:kinds AS text[]))
        AS e(incident_id, error, kinds)
), target AS (
    SELECT d.id, e.error FROM notifier_delivery AS d JOIN ends AS e ON e.incident_id = d.incident_id
    WHERE d.kind = ANY(string_to_array(e.kinds, ',')) AND d.status IN ('pending', 'retrying')
      AND d.id <> ALL(CAST(:spared AS text[]))
    ORDER BY d.id
    FOR UPDATE OF d
), cancelled AS (
    UPDATE notifier_delivery AS d
    SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL, last_error = target.error, updated_at = :now
    FROM target WHERE d.id = target.id AND d.status IN ('pending', 'retrying')
    RETURNING d.id, d.attempt_count, d.channel, target.error
), recorded AS (
    INSERT INTO notifier_attempt (delivery_id, attempt, status, provider, error, at)
    SELECT id, attempt_count, 'cancelled', '', error, :now FROM cancelled
    RETURNING id, delivery_id
)
SELECT recorded.id, recorded.delivery_id, cancelled.channel
FROM recorded JOIN cancelled ON cancelled.id = recorded.delivery_id
ORDER BY recorded.id
"""
)


@dataclass(frozen=True)
class Cancelled:
    attempt_id: int
    delivery_id: str
    channel: str


async def cancel_waiting(
    conn: AsyncConnection,
    reasons: Mapping[str, str],
    kinds: Mapping[str, Collection[str]],
    spared: Collection[str],
    now: datetime,
) -> list[Cancelled]:
    """End as ``cancelled`` the waiting deliveries of the incidents of ``reasons`` (incident id -> the error to
    record) whose kind is among the incident's ``kinds``, except the deliveries ``spared``. Returns what was
    ended, with each attempt row's id."""
    if not reasons:
        return []
    params = {
        "incidents": list(reasons),
        "errors": list(reasons.values()),
        "kinds": [",".join(kinds[incident]) for incident in reasons],
        "spared": sorted(spared),
        "now": now,
    }
    rows = await conn.execute(_CANCEL, params)
    return [Cancelled(int(row.id), str(row.delivery_id), str(row.channel)) for row in rows]
