"""Suppressed alerts made due for another look by something other than an alert batch.

After a configuration change, the alerts no route rule matched: before, they were routed again only at their next
trigger, which for an Alertmanager alert is its repeat (hours by default) and for a CloudWatch alarm, sent once per
state change, never came. The timer loop's recheck pass (``timers.recheck_suppressed``) then routes them under the
configuration in force: those it routes now page ("now routable: ..."), the others wait again without a decision.
"""

from __future__ import annotations

from datetime import datetime

from alertrouter_router.db.pool import Conn

_UNROUTED = (
    "UPDATE router_alert SET recheck_at = $1 WHERE status = 'suppressed' AND suppressed_by = 'no_route' "
    "AND recheck_at IS NULL AND last_event_at >= $2 AND no_route_version IS DISTINCT FROM $3"
)


async def recheck_unrouted(conn: Conn, now: datetime, heard_since: datetime, version: str) -> int:
    """Make the unrouted alerts heard from since ``heard_since`` due now; how many. An alert whose source went
    quiet long ago is left alone: paging for it after a reload would wake someone for a problem that may be gone.

    Only a process on another ``version`` than the one that found an alert unrouted looks at it again (the recheck
    pass leaves the others alone): a replica still refusing the reload would find no route again, and took the
    look from the replicas that route the alert now."""
    status = await conn.execute(_UNROUTED, now, heard_since, version)
    return int(status.rsplit(" ", 1)[-1])
