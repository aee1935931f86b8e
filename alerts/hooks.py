"""The two calls the flow engine makes: tasks went on the clock, tasks were settled.

``escalate_tasks`` is called in the transaction that makes tasks someone's
work (state pending, ``activated_at`` set): for each it computes the deadline
(in working time when the node says ``business_hours`` and a calendar is
given), freezes the node's warning plan, and returns the escalation, whose
``due_at`` the engine stores as the task's ``due_at``. ``settle_tasks`` is
called in the transaction that takes tasks out of the open states (approved,
rejected, done, cancelled, transferred away): the remaining levels never fire
and queued alerts are cancelled. Both take a whole flush's tasks at once and
cost a constant number of statements; ``escalate_task`` / ``settle_task`` are
the batch of one. All only flush.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.calendar import BusinessCalendar
from alerts.escalation import NewEscalation, start_escalations, stop_escalations
from alerts.models import Escalation
from alerts.plan import Plan
from alerts.schedule import compute_due

__all__ = ["EscalationRequest", "escalate_task", "escalate_tasks", "settle_task", "settle_tasks"]


@dataclass(frozen=True)
class EscalationRequest:
    """One task going on the clock.

    ``warning_plan`` is the task's frozen ``[{level, after_s, channels, recipients: [people rules]}]``;
    the rules are resolved when each level fires (the clock's resolver).
    """

    task_id: int | str
    started_at: datetime
    limit: timedelta
    warning_plan: Sequence[Mapping[str, Any]]
    title: str
    text: str = ""
    link: str | None = None
    calendar: BusinessCalendar | None = None


async def escalate_tasks(session: AsyncSession, tenant: str,
                         items: Iterable[EscalationRequest]) -> dict[str, Escalation | None]:
    """Put tasks on the SLA clock: task id (as a string) → its escalation.

    None (and nothing stored) for a task whose node has no warning levels. A
    task that already has an escalation keeps it as is (see ``start_escalations``).
    """
    result: dict[str, Escalation | None] = {}
    wanted: list[NewEscalation] = []
    for item in items:
        levels = list(item.warning_plan)
        if not levels:
            result.setdefault(str(item.task_id), None)
            continue
        plan = Plan.from_warning_plan(levels, title=item.title, text=item.text, link=item.link)
        due = compute_due(item.started_at, item.limit, item.calendar)
        wanted.append(NewEscalation(item.task_id, plan, item.started_at, due, item.calendar))
    result.update(await start_escalations(session, tenant, wanted))
    return result


async def escalate_task(session: AsyncSession, *, tenant: str, task_id: int | str, started_at: datetime,
                        limit: timedelta, warning_plan: Iterable[Mapping[str, Any]], title: str, text: str = "",
                        link: str | None = None, calendar: BusinessCalendar | None = None) -> Escalation | None:
    """``escalate_tasks`` for one task; None (and nothing stored) when its node has no warning levels."""
    item = EscalationRequest(task_id, started_at, limit, list(warning_plan), title, text, link, calendar)
    return (await escalate_tasks(session, tenant, [item]))[str(task_id)]


async def settle_tasks(session: AsyncSession, tenant: str, reasons: Mapping[int | str, str]) -> set[str]:
    """Tasks were acted on (task id → why, e.g. "task approved"): stop their escalations.

    Returns the ids (strings) of the tasks whose escalation was stopped now;
    the rest had none running and are logged with why.
    """
    return await stop_escalations(session, tenant, reasons)


async def settle_task(session: AsyncSession, tenant: str, task_id: int | str, *, reason: str) -> bool:
    """``settle_tasks`` for one task: False (and logged) when there was no escalation running."""
    return str(task_id) in await settle_tasks(session, tenant, {task_id: reason})
