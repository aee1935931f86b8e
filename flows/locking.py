"""Reading the tickets an action touches, locked, and their tasks, as the engine's plain records.

Why a lock per ticket: two people acting on one ticket at once must be
serialized so the second sees the first's result (two or-sign approvers at the
same instant give one decision and one ``Conflict``). One ``UPDATE tickets SET
version = version + 1 ... RETURNING`` takes the row locks on PostgreSQL (the
write lock on SQLite) and reads the tickets in the same round trip.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import Result, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.models import FlowVersion, Task, Ticket
from flows.versions import definitions_by_digest
from flows.workspace import TaskRec, TicketDraft

__all__ = ["lock_tickets", "ticket_tasks"]

#: The ticket columns a ``TicketDraft`` carries (all but the flow, resolved from the version).
_DRAFT_COLUMNS = tuple(f.name for f in fields(TicketDraft) if f.name not in ("flow", "skipped"))


async def lock_tickets(session: AsyncSession, tenant: str, task_ids: list[int]) -> dict[int, TicketDraft]:
    """Lock the tickets of these tasks (bumping their version) and read them."""
    t, v = Ticket.__table__, FlowVersion.__table__
    # Tasks by primary key only; the tenant is checked on the tickets. With ``tasks.tenant`` here too,
    # PostgreSQL planned a new tenant (unknown to its statistics) as one row and ran the subquery once per
    # ticket of the tenant: measured 300 ms per 250-action batch at 2,000 tickets, growing with each one.
    owners = select(Task.__table__.c.ticket_id).where(Task.__table__.c.id.in_(task_ids))
    digest = select(v.c.digest).where(v.c.id == t.c.flow_version_id).scalar_subquery().label("flow_digest")
    result = await session.execute(
        t.update()
        .where(t.c.tenant == tenant, t.c.id.in_(owners))
        .values(version=t.c.version + 1)
        .returning(*t.c, digest)
    )
    rows = _dicts(result)
    flows = await definitions_by_digest(session, {r["flow_version_id"]: r.pop("flow_digest") for r in rows})
    return {
        r["id"]: TicketDraft(flow=flows[r["flow_version_id"]], **{k: r[k] for k in _DRAFT_COLUMNS}) for r in rows
    }


def _dicts(result: Result[Any]) -> list[dict[str, Any]]:
    """Rows as plain dicts: ``Row._mapping`` costs more per row than everything done with it after."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


async def ticket_tasks(session: AsyncSession, tickets: dict[int, TicketDraft]) -> list[TaskRec]:
    """Every task of these tickets (the engine needs the siblings of the task acted on)."""
    c = Task.__table__.c
    rows = _dicts(await session.execute(select(*Task.__table__.c).where(c.ticket_id.in_(list(tickets)))))
    tasks = []
    for r in rows:
        del r["tenant"]
        tasks.append(TaskRec(ticket=tickets[r.pop("ticket_id")], was=(r["assignee"], r["state"]), **r))
    return tasks
