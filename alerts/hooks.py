"""The two calls the flow engine makes: a task went on the clock, a task was settled.

``escalate_task`` is called in the transaction that makes a task someone's
work (state pending, ``activated_at`` set): it computes the deadline (in
working time when the node says ``business_hours`` and a calendar is given),
freezes the node's warning plan, and returns the escalation, whose
``due_at`` the engine stores as the task's ``due_at``. ``settle_task`` is
called in the transaction that takes the task out of the open states
(approved, rejected, done, cancelled, transferred away): the remaining levels
never fire and queued alerts are cancelled. Both only flush.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.calendar import BusinessCalendar
from alerts.escalation import stop_escalation, start_escalation
from alerts.models import Escalation
from alerts.plan import Plan
from alerts.schedule import compute_due

__all__ = ["escalate_task", "settle_task"]


async def escalate_task(session: AsyncSession, *, tenant: str, task_id: int | str, started_at: datetime,
                        limit: timedelta, warning_plan: Iterable[Mapping[str, Any]], title: str, text: str = "",
                        link: str | None = None, calendar: BusinessCalendar | None = None) -> Escalation | None:
    """Put a task on the SLA clock; None (and nothing stored) when its node has no warning levels.

    ``warning_plan`` is the task's frozen ``[{level, after_s, channels, recipients: [people rules]}]``;
    the rules are resolved when each level fires (the clock's resolver).
    """
    levels = list(warning_plan)
    if not levels:
        return None
    plan = Plan.from_warning_plan(levels, title=title, text=text, link=link)
    due = compute_due(started_at, limit, calendar)
    return await start_escalation(session, tenant=tenant, task_id=task_id, plan=plan, started_at=started_at,
                                  due_at=due, calendar=calendar)


async def settle_task(session: AsyncSession, tenant: str, task_id: int | str, *, reason: str) -> bool:
    """The task was acted on: stop its escalation (False, logged, when there was none running)."""
    return await stop_escalation(session, tenant, task_id, reason=reason)
