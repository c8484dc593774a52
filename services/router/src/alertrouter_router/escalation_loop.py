"""The timer loop: fires due escalation steps, in any replica, exactly once each.

Each pass claims due steps with SKIP LOCKED in one transaction, pages the step's level through the same
``lifecycle.escalate`` as the live path, records an escalation decision (unique per step), and commits.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from alertrouter_router import escalation, incidents, lifecycle
from alertrouter_router.context import EventContext
from alertrouter_router.decisions import Decision, Outcome
from alertrouter_shared.logging import bound_context, get_logger

if TYPE_CHECKING:
    from alertrouter_router.runtime import RouterState

log = get_logger(__name__)


async def fire_due_steps(state: RouterState) -> int:
    """One pass; returns how many steps fired."""
    now = state.clock.now()
    async with state.engine.begin() as conn:
        steps = await escalation.claim_due(conn, now, state.settings.escalation_batch)
        ctx = EventContext(conn=conn, config=state.configs.current, now=now)
        for step in steps:
            with bound_context(incident_id=step.incident_id):
                await _fire(ctx, step)
            await escalation.mark_done(conn, step, now)
        await ctx.writes.flush_and_log(conn)
    if steps:
        state.publisher.kick()
    return len(steps)


async def _fire(ctx: EventContext, step: escalation.Step) -> None:
    target = await incidents.get(ctx.conn, step.incident_id, lock=True)
    step_key = f"{step.incident_id}:{step.round}:{step.level}"
    base = Decision(
        outcome=Outcome.ESCALATION_ENDED,
        reason="",
        kind="escalation",
        step_key=step_key,
        incident_id=step.incident_id,
        config_version=ctx.config.version,
        explanation={"step": {"round": step.round + 1, "level": step.level + 1, "due_at": step.due_at.isoformat()}},
    )
    if target is None or target.status != incidents.TRIGGERED:
        return
    base.dedup_key, base.service_id, base.team_id = target.dedup_key, target.service_id, target.team_id
    base.policy_id = target.policy_id
    if target.policy_id not in ctx.config.policies_by_id:
        base.reason = f"policy {target.policy_id} no longer exists in configuration {ctx.config.short_version}"
    else:
        await lifecycle.escalate(ctx, target, step.round, step.level, base)
        base.reason = f"not acknowledged in time: {base.reason}"
    ctx.writes.decide(base, ctx.now)
    log.info("escalation_fired", outcome=base.outcome.value, level=step.level + 1, round=step.round + 1)


async def run_escalations(state: RouterState) -> None:
    while not state.stopping.is_set():
        try:
            while await fire_due_steps(state) > 0:
                pass
        except Exception as exc:
            log.warning("escalation_pass_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), timeout=state.settings.escalation_poll_seconds)
