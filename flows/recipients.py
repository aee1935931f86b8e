"""For the SLA clock and the alerts room: who a task's warning level goes to, and the PBX callbacks due.

A task's ``warning_plan`` holds people *rules* (frozen when the task was
made), not people: resolving them when the level fires follows a transfer
(``{assignee: true}`` is whoever holds the task then) and org changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.assign import resolve
from flows.definition import PeopleRef
from flows.models import OPEN_TASK_STATES, Task, Ticket
from flows.people_store import load_directory

__all__ = ["due_callbacks", "recipients_for"]


async def recipients_for(
    session: AsyncSession, tenant: str, task_id: int | str, level: int
) -> list[dict[str, Any]]:
    """Contacts (``person, name, phone, email, wecom``) of warning ``level`` of a task; [] if no such level.

    ``task_id`` may be text: the alerts room keys escalations by text ids so any room's tasks fit.
    """
    if isinstance(task_id, str) and not task_id.isdigit():
        return []
    row = (
        await session.execute(
            select(Task, Ticket.fields, Ticket.actors)
            .join(Ticket, Ticket.id == Task.ticket_id)
            .where(Task.tenant == tenant, Task.id == int(task_id))
        )
    ).first()
    if row is None:
        return []
    task, fields, actors = row
    plan = next((w for w in task.warning_plan if w["level"] == level), None)
    if plan is None:
        return []
    directory = await load_directory(session, tenant)
    refs = [PeopleRef.model_validate(r) for r in plan["recipients"]]
    return [directory.people[p].contact() for p in resolve(refs, directory, fields, actors, task.assignee)]


async def due_callbacks(session: AsyncSession, tenant: str, limit: int = 100) -> list[dict[str, Any]]:
    """Open revisit tasks that ask the PBX to call the customer back (oldest first)."""
    rows = (
        await session.execute(
            select(Task.id, Task.ticket_id, Task.callback, Task.assignee, Task.due_at)
            .where(Task.tenant == tenant, Task.callback.is_not(None), Task.state.in_(OPEN_TASK_STATES))
            .order_by(Task.id)
            .limit(limit)
        )
    ).all()
    return [
        {
            "task_id": r.id,
            "ticket_id": r.ticket_id,
            "number": r.callback,
            "agent": r.assignee,
            "due_at": r.due_at.isoformat() if r.due_at else None,
        }
        for r in rows
    ]
