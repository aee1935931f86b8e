"""An escalation's life: start, pause, resume, reschedule, acknowledge, stop.

Strategy: these functions are what the flow engine and the API call. They
only ``add``/``flush``; the caller owns the transaction, so starting an
escalation commits with the task that needs it, and stopping it commits with
the action that settled the task. Every change that makes pending deadlines
wrong bumps ``generation`` and deletes or rewrites the deadline rows in the
same transaction; a clock that already holds an old row sees the generation
mismatch and fires nothing (OnCall's ``active_escalation_id`` guard).

Starting and stopping are batched (``start_escalations``,
``stop_escalations``): a constant number of statements per batch, so the flow
engine pays a few round trips per flush rather than three to six per task; the
one-task forms are the batch of one.

Lock order, to keep PostgreSQL free of deadlocks: deadline rows first, then
the escalation rows (in id order), then outbox rows (in id order), the same
order the clock and the dispatcher use.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.calendar import BusinessCalendar, shift_after_pause
from alerts.models import AlertState, Deadline, DeadlineState, Escalation, EscalationState, OutboxAlert
from alerts.plan import Plan
from alerts.schedule import fire_times
from hotline.bulk import insert_rows
from hotline.logs import get_logger

__all__ = [
    "NewEscalation",
    "acknowledge",
    "cancel_escalation",
    "find_escalation",
    "pause_escalation",
    "reschedule_escalation",
    "resume_escalation",
    "start_escalation",
    "start_escalations",
    "stop_escalation",
    "stop_escalations",
]

log = get_logger(__name__)
_SETTLED = (EscalationState.ACKED, EscalationState.STOPPED)


def new_ack_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


@dataclass(frozen=True)
class NewEscalation:
    """One task to put on the clock: ``start_escalation``'s arguments, for the batched form."""

    task_id: str | int
    plan: Plan
    started_at: datetime
    due_at: datetime
    calendar: BusinessCalendar | None = None
    ack_code: str | None = None


async def find_escalation(session: AsyncSession, tenant: str, task_id: str | int, *,
                          for_update: bool = False) -> Escalation | None:
    query = select(Escalation).where(Escalation.tenant == tenant, Escalation.task_id == str(task_id))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def _deadline_rows(esc: Escalation, plan: Plan, calendar: BusinessCalendar | None, *,
                   after_level: int | None) -> list[dict[str, Any]]:
    times = fire_times(plan, esc.started_at, esc.due_at, calendar)
    return [{"escalation_id": esc.id, "level": n, "fire_at": at, "generation": esc.generation,
             "state": DeadlineState.PENDING}
            for n, at in sorted(times.items()) if after_level is None or n > after_level]


def _deadlines(esc: Escalation, plan: Plan, calendar: BusinessCalendar | None, *,
               after_level: int | None) -> list[Deadline]:
    return [Deadline(**row) for row in _deadline_rows(esc, plan, calendar, after_level=after_level)]


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``(key, task_id)`` pairs → key → task ids, for one log line per reason instead of one per task."""
    groups: dict[str, list[str]] = {}
    for key, task_id in pairs:
        groups.setdefault(key, []).append(task_id)
    return groups


async def start_escalations(session: AsyncSession, tenant: str,
                            items: Sequence[NewEscalation]) -> dict[str, Escalation]:
    """Freeze each task's plan and lay out one deadline per level: three statements per batch.

    Returns task id (as stored, a string) → its escalation. Idempotent: a task
    that already has an escalation keeps it unchanged (the stream that triggers
    this is at-least-once); a task named twice in ``items`` is started once,
    from its first item. With a calendar, percentages and offsets count
    working time.
    """
    wanted: dict[str, NewEscalation] = {}
    for item in items:
        wanted.setdefault(str(item.task_id), item)
    if not wanted:
        return {}
    query = select(Escalation).where(Escalation.tenant == tenant, Escalation.task_id.in_(list(wanted)))
    found = {esc.task_id: esc for esc in (await session.scalars(query)).all()}
    for state, task_ids in _grouped((str(esc.state), tid) for tid, esc in found.items()).items():
        log.info("escalation already started; kept as is", tenant=tenant, task_ids=task_ids, state=state)
    new = [(tid, item) for tid, item in wanted.items() if tid not in found]
    if new:
        rows = [{"tenant": tenant, "task_id": tid, "state": EscalationState.ACTIVE, "generation": 1,
                 "plan": item.plan.stored(), "calendar": item.calendar.name if item.calendar else None,
                 "started_at": item.started_at, "due_at": item.due_at, "ack_code": item.ack_code or new_ack_code()}
                for tid, item in new]
        # Rows are matched back by task id (unique per tenant), not by position: ``sort_by_parameter_order``
        # would make SQLite fall back to one INSERT per row.
        created = {esc.task_id: esc for esc in (await session.scalars(insert(Escalation).returning(Escalation),
                                                                       rows)).all()}
        deadlines = [row for tid, item in new
                     for row in _deadline_rows(created[tid], item.plan, item.calendar, after_level=None)]
        await insert_rows(await session.connection(), Deadline.__table__, deadlines)
        found.update(created)
    return {tid: found[tid] for tid in wanted}


async def start_escalation(session: AsyncSession, *, tenant: str, task_id: str | int, plan: Plan,
                           started_at: datetime, due_at: datetime, calendar: BusinessCalendar | None = None,
                           ack_code: str | None = None) -> Escalation:
    """``start_escalations`` for one task: the task's escalation, the existing one if it has one."""
    item = NewEscalation(task_id, plan, started_at, due_at, calendar, ack_code)
    return (await start_escalations(session, tenant, [item]))[str(task_id)]


async def _drop_deadlines(session: AsyncSession, esc: Escalation) -> None:
    await session.execute(delete(Deadline).where(Deadline.escalation_id == esc.id))


async def _settle(session: AsyncSession, match: ColumnElement[bool], state: EscalationState,
                  reasons: Mapping[str, str]) -> tuple[list[Escalation], list[Escalation]]:
    """Settle every escalation ``match`` selects: four statements however many.

    Deletes their pending deadlines, locks them in id order, bumps the
    generation of those still running and cancels their queued alerts (locked
    in id order, as the dispatcher does) with ``reasons[task_id]`` as the
    alert's ``last_error``. Returns (every escalation found, those settled
    now); the others were already acknowledged or stopped.
    """
    await session.execute(delete(Deadline).where(Deadline.escalation_id.in_(select(Escalation.id).where(match))))
    query = select(Escalation).where(match).order_by(Escalation.id).with_for_update()
    found = list((await session.scalars(query.execution_options(populate_existing=True))).all())
    live = [esc for esc in found if esc.state not in _SETTLED]
    if not live:
        return found, live
    ids = [esc.id for esc in live]
    await session.execute(update(Escalation).where(Escalation.id.in_(ids))
                          .values(state=state, generation=Escalation.generation + 1, paused_at=None)
                          .execution_options(synchronize_session="evaluate"))
    why = {esc.id: reasons[esc.task_id] for esc in live}
    last_error = (next(iter(why.values())) if len(set(why.values())) == 1
                  else case(why, value=OutboxAlert.escalation_id))
    queued = (select(OutboxAlert.id).where(OutboxAlert.escalation_id.in_(ids), OutboxAlert.state == AlertState.QUEUED)
              .order_by(OutboxAlert.id).with_for_update())
    await session.execute(
        update(OutboxAlert)
        .where(OutboxAlert.id.in_(queued.scalar_subquery()))
        .values(state=AlertState.CANCELLED, last_error=last_error, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return found, live


async def stop_escalations(session: AsyncSession, tenant: str, reasons: Mapping[str | int, str]) -> set[str]:
    """Tasks were acted on (task id → why): no further level fires, queued alerts are cancelled.

    Returns the ids (strings) of the tasks whose escalation was stopped now;
    the others had none running, and are logged with why.
    """
    why = {str(tid): reason for tid, reason in reasons.items()}
    if not why:
        return set()
    found, live = await _settle(session, and_(Escalation.tenant == tenant, Escalation.task_id.in_(list(why))),
                                EscalationState.STOPPED, why)
    stopped = {esc.task_id for esc in live}
    states = {esc.task_id: esc.state for esc in found}
    skipped = _grouped((f"already {states[tid]}" if tid in states else "none started", tid)
                       for tid in why if tid not in stopped)
    for reason, task_ids in skipped.items():
        log.info("no escalation to stop", tenant=tenant, task_ids=task_ids, why=reason)
    for reason, task_ids in _grouped((why[tid], tid) for tid in why if tid in stopped).items():
        log.info("escalation stopped", tenant=tenant, task_ids=task_ids, reason=reason)
    return stopped


async def stop_escalation(session: AsyncSession, tenant: str, task_id: str | int, *,
                          reason: str = "task acted on") -> bool:
    """``stop_escalations`` for one task; False (and logged why) when there was nothing to stop."""
    return str(task_id) in await stop_escalations(session, tenant, {task_id: reason})


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
    _, settled = await _settle(session, Escalation.id == esc.id, EscalationState.ACKED,
                               {esc.task_id: f"acknowledged by {by} via {via}"})
    if not settled:
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
