"""An escalation's life: start, pause, resume, reschedule, acknowledge, stop.

Strategy: these functions are what the flow engine and the API call. They
only ``add``/``flush``; the caller owns the transaction, so starting an
escalation commits with the task that needs it, and stopping it commits with
the action that settled the task. Every change that makes pending deadlines
wrong bumps ``generation`` and deletes or rewrites the deadline rows in the
same transaction; a clock that already holds an old row sees the generation
mismatch and fires nothing (OnCall's ``active_escalation_id`` guard).

Lock order, to keep PostgreSQL free of deadlocks: deadline rows first, then
the escalation row, then outbox rows, the same order the clock uses.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.calendar import BusinessCalendar, shift_after_pause
from alerts.models import AlertState, Deadline, DeadlineState, Escalation, EscalationState, OutboxAlert
from alerts.plan import Plan
from alerts.schedule import fire_times
from hotline.logs import get_logger

__all__ = ["acknowledge", "find_escalation", "pause_escalation", "reschedule_escalation", "resume_escalation",
           "start_escalation", "stop_escalation", "cancel_escalation"]

log = get_logger(__name__)


def new_ack_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


async def find_escalation(session: AsyncSession, tenant: str, task_id: str | int, *,
                          for_update: bool = False) -> Escalation | None:
    query = select(Escalation).where(Escalation.tenant == tenant, Escalation.task_id == str(task_id))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def _deadlines(esc: Escalation, plan: Plan, calendar: BusinessCalendar | None, *,
               after_level: int | None) -> list[Deadline]:
    times = fire_times(plan, esc.started_at, esc.due_at, calendar)
    return [Deadline(escalation_id=esc.id, level=n, fire_at=at, generation=esc.generation, state=DeadlineState.PENDING)
            for n, at in sorted(times.items()) if after_level is None or n > after_level]


async def start_escalation(session: AsyncSession, *, tenant: str, task_id: str | int, plan: Plan,
                           started_at: datetime, due_at: datetime, calendar: BusinessCalendar | None = None,
                           ack_code: str | None = None) -> Escalation:
    """Freeze ``plan`` for the task and lay out one deadline per level.

    Idempotent: a second call for the same task returns the existing
    escalation unchanged (the stream that triggers it is at-least-once).
    With ``calendar``, percentages and offsets count working time.
    """
    existing = await find_escalation(session, tenant, task_id)
    if existing is not None:
        log.info("escalation already started; kept as is", tenant=tenant, task_id=str(task_id), state=existing.state)
        return existing
    esc = Escalation(tenant=tenant, task_id=str(task_id), state=EscalationState.ACTIVE, generation=1,
                     plan=plan.model_dump(mode="json"), calendar=calendar.name if calendar else None,
                     started_at=started_at, due_at=due_at, ack_code=ack_code or new_ack_code())
    session.add(esc)
    await session.flush()
    session.add_all(_deadlines(esc, plan, calendar, after_level=None))
    await session.flush()
    return esc


async def _drop_deadlines(session: AsyncSession, esc: Escalation) -> None:
    await session.execute(delete(Deadline).where(Deadline.escalation_id == esc.id))


async def _cancel_queued(session: AsyncSession, esc: Escalation, reason: str) -> None:
    """Cancel the escalation's unsent alerts, locking them in id order as the dispatcher does."""
    await session.execute(select(OutboxAlert.id).where(OutboxAlert.escalation_id == esc.id,
                                                       OutboxAlert.state == AlertState.QUEUED)
                          .order_by(OutboxAlert.id).with_for_update())
    await session.execute(
        update(OutboxAlert)
        .where(OutboxAlert.escalation_id == esc.id, OutboxAlert.state == AlertState.QUEUED)
        .values(state=AlertState.CANCELLED, last_error=reason, claimed_by=None)
        .execution_options(synchronize_session=False)
    )


async def _lock(session: AsyncSession, esc: Escalation) -> Escalation:
    """Re-read the escalation under a row lock (PostgreSQL), so state and generation are current."""
    query = select(Escalation).where(Escalation.id == esc.id).with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one()


async def _settle(session: AsyncSession, esc: Escalation, state: EscalationState, reason: str) -> bool:
    """Delete pending deadlines, bump the generation, cancel queued alerts; False if already settled."""
    await _drop_deadlines(session, esc)
    esc = await _lock(session, esc)
    if esc.state in (EscalationState.ACKED, EscalationState.STOPPED):
        return False
    esc.state = state
    esc.generation += 1
    esc.paused_at = None
    await _cancel_queued(session, esc, reason)
    await session.flush()
    return True


async def stop_escalation(session: AsyncSession, tenant: str, task_id: str | int, *,
                          reason: str = "task acted on") -> bool:
    """The task was acted on (approved, handled, closed): no further level fires, queued alerts are cancelled.

    Returns False (and logs why) when there was nothing to stop.
    """
    esc = await find_escalation(session, tenant, task_id)
    if esc is None or esc.state in (EscalationState.ACKED, EscalationState.STOPPED):
        log.info("no escalation to stop", tenant=tenant, task_id=str(task_id),
                 why="none started" if esc is None else f"already {esc.state}")
        return False
    if not await _settle(session, esc, EscalationState.STOPPED, reason):
        log.info("no escalation to stop", tenant=tenant, task_id=str(task_id), why="settled meanwhile")
        return False
    log.info("escalation stopped", tenant=tenant, task_id=str(task_id), reason=reason)
    return True


#: The name the flow engine's hook uses ("task acted on").
cancel_escalation = stop_escalation


async def acknowledge(session: AsyncSession, esc: Escalation, *, now: datetime, by: str, via: str,
                      alert: OutboxAlert | None = None) -> bool:
    """Someone has it in hand: stop the remaining levels at once; ``alert`` is the one they answered.

    Returns False when the escalation was already settled (a second ack is harmless).
    """
    if esc.state in (EscalationState.ACKED, EscalationState.STOPPED):
        log.info("acknowledgement ignored", tenant=esc.tenant, task_id=esc.task_id,
                 why=f"escalation already {esc.state}")
        return False
    if not await _settle(session, esc, EscalationState.ACKED, f"acknowledged by {by} via {via}"):
        log.info("acknowledgement ignored", tenant=esc.tenant, task_id=esc.task_id, why="settled meanwhile")
        return False
    esc.acked_at, esc.acked_by, esc.ack_via = now, by[:128], via[:32]
    if alert is not None and alert.state != AlertState.FAILED:
        alert.state, alert.acked_at = AlertState.ACKED, now
    await session.flush()
    log.info("escalation acknowledged", tenant=esc.tenant, task_id=esc.task_id, by=by, via=via)
    return True


async def pause_escalation(session: AsyncSession, tenant: str, task_id: str | int, *, now: datetime) -> bool:
    """Stop the clock (e.g. waiting for the customer); deadlines leave the due index until resumed."""
    esc = await find_escalation(session, tenant, task_id)
    if esc is None or esc.state != EscalationState.ACTIVE:
        log.info("pause ignored", tenant=tenant, task_id=str(task_id), why="no active escalation")
        return False
    await session.execute(update(Deadline).where(Deadline.escalation_id == esc.id)
                          .values(state=DeadlineState.PAUSED).execution_options(synchronize_session=False))
    esc.state, esc.paused_at = EscalationState.PAUSED, now
    await session.flush()
    return True


async def resume_escalation(session: AsyncSession, tenant: str, task_id: str | int, *, now: datetime,
                            calendar: BusinessCalendar | None = None) -> bool:
    """Restart the clock: every pending level keeps the (working) time it had left at the pause."""
    esc = await find_escalation(session, tenant, task_id)
    if esc is None or esc.state != EscalationState.PAUSED or esc.paused_at is None:
        log.info("resume ignored", tenant=tenant, task_id=str(task_id), why="no paused escalation")
        return False
    rows = (await session.execute(select(Deadline).where(Deadline.escalation_id == esc.id))).scalars().all()
    for row in rows:
        row.fire_at = shift_after_pause(row.fire_at, esc.paused_at, now, calendar)
        row.state = DeadlineState.PENDING
    esc.due_at = shift_after_pause(esc.due_at, esc.paused_at, now, calendar)
    esc.state, esc.paused_at = EscalationState.ACTIVE, None
    await session.flush()
    return True


async def reschedule_escalation(session: AsyncSession, tenant: str, task_id: str | int, *, due_at: datetime,
                                calendar: BusinessCalendar | None = None) -> bool:
    """The deadline changed (extended, reassigned): lay out the levels not yet fired again.

    Bumps the generation, so a clock holding an old deadline row fires nothing.
    """
    esc = await find_escalation(session, tenant, task_id)
    if esc is None or esc.state not in (EscalationState.ACTIVE, EscalationState.PAUSED):
        log.info("reschedule ignored", tenant=tenant, task_id=str(task_id), why="no running escalation")
        return False
    await _drop_deadlines(session, esc)
    esc.generation += 1
    esc.due_at = due_at
    new = _deadlines(esc, Plan.model_validate(esc.plan), calendar, after_level=esc.fired_level)
    if esc.state == EscalationState.PAUSED:
        for row in new:
            row.state = DeadlineState.PAUSED
    session.add_all(new)
    await session.flush()
    return True
