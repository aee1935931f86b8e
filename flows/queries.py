"""Read side of the flow engine: ticket lists, one ticket in full, an inbox, a flow's live graph.

Every function filters by tenant first, so another tenant's rows are never
found; the API turns "not found" into 404. Values come back as plain JSON-able
dicts (times in ISO 8601, UTC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.models import OPEN_TASK_STATES, Task, Ticket, TicketCall, TicketEvent, TicketState
from flows.versions import latest_versions, viewable_versions
from hotline.tokens import Role

__all__ = ["PAGE_LIMIT", "flow_graph", "inbox", "list_tickets", "task_json", "ticket_detail"]

PAGE_LIMIT = 200


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(task: Task, now: datetime) -> dict[str, Any]:
    return {
        "id": task.id,
        "ticket_id": task.ticket_id,
        "node": task.node,
        "node_type": task.node_type,
        "step": task.step,
        "seq": task.seq,
        "assignee": task.assignee,
        "state": str(task.state),
        "outcome": task.outcome,
        "acted_by": task.acted_by,
        "acted_at": _iso(task.acted_at),
        "created_at": _iso(task.created_at),
        "activated_at": _iso(task.activated_at),
        "due_at": _iso(task.due_at),
        "overdue": bool(task.due_at and task.state in OPEN_TASK_STATES and task.due_at < now),
        "sla_s": task.sla_s,
        "business_hours": task.business_hours,
        "warning_plan": task.warning_plan,
        "callback": task.callback,
        "version": task.version,
    }


def _ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "flow": ticket.flow_key,
        "flow_version_id": ticket.flow_version_id,
        "template": ticket.template,
        "intent": ticket.intent,
        "call_id": ticket.call_id,
        "caller": ticket.caller,
        "priority": ticket.priority,
        "state": str(ticket.state),
        "result": ticket.result,
        "current_node": ticket.current_node,
        "fields": ticket.fields,
        "outcomes": ticket.outcomes,
        "repeat": ticket.repeat,
        "opened_at": _iso(ticket.opened_at),
        "last_call_at": _iso(ticket.last_call_at),
        "updated_at": _iso(ticket.updated_at),
        "closed_at": _iso(ticket.closed_at),
        "version": ticket.version,
    }


def _overdue_tasks(tenant: str, now: datetime) -> Select[Any]:
    return select(Task.ticket_id).where(
        Task.tenant == tenant, Task.state.in_(OPEN_TASK_STATES), Task.due_at < now
    )


async def list_tickets(
    session: AsyncSession,
    tenant: str,
    role: Role,
    now: datetime,
    *,
    caller: str | None = None,
    state: TicketState | None = None,
    flow: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    limit: int = PAGE_LIMIT,
) -> list[dict[str, Any]]:
    """Newest first; only tickets of flow versions ``role`` may view."""
    query = select(Ticket).where(
        Ticket.tenant == tenant, Ticket.flow_version_id.in_(await viewable_versions(session, tenant, role))
    )
    if caller:
        query = query.where(Ticket.caller == caller)
    if state is not None:
        query = query.where(Ticket.state == state)
    if flow:
        query = query.where(Ticket.flow_key == flow)
    if assignee:
        query = query.where(
            Ticket.id.in_(
                select(Task.ticket_id).where(
                    Task.tenant == tenant, Task.assignee == assignee, Task.state.in_(OPEN_TASK_STATES)
                )
            )
        )
    if overdue is not None:
        late = Ticket.id.in_(_overdue_tasks(tenant, now))
        query = query.where(late if overdue else ~late)
    rows = (await session.execute(query.order_by(Ticket.id.desc()).limit(limit))).scalars().all()
    return [_ticket_json(t) for t in rows]


async def ticket_detail(
    session: AsyncSession, tenant: str, role: Role, ticket_id: int, now: datetime
) -> dict[str, Any] | None:
    """The ticket with its tasks, attached calls and timeline; ``None`` if not found or not viewable."""
    ticket = (
        await session.execute(select(Ticket).where(Ticket.tenant == tenant, Ticket.id == ticket_id))
    ).scalar()
    if ticket is None or ticket.flow_version_id not in await viewable_versions(session, tenant, role):
        return None
    tasks = (
        await session.execute(select(Task).where(Task.ticket_id == ticket.id).order_by(Task.id))
    ).scalars()
    calls = (
        await session.execute(
            select(TicketCall).where(TicketCall.ticket_id == ticket.id).order_by(TicketCall.at)
        )
    ).scalars()
    events = (
        await session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    ).scalars()
    out = _ticket_json(ticket)
    out["tasks"] = [task_json(t, now) for t in tasks]
    out["calls"] = [{"call_id": ticket.call_id, "at": _iso(ticket.opened_at), "opened": True}] + [
        {"call_id": c.call_id, "at": _iso(c.at), "opened": False} for c in calls
    ]
    out["timeline"] = [
        {
            "id": e.id,
            "at": _iso(e.at),
            "actor": e.actor,
            "kind": str(e.kind),
            "task_id": e.task_id,
            "from_node": e.from_node,
            "to_node": e.to_node,
            "changes": e.changes,
            "data": e.data,
        }
        for e in events
    ]
    return out


async def inbox(session: AsyncSession, tenant: str, person: str, now: datetime) -> list[dict[str, Any]]:
    """``person``'s open tasks, soonest deadline first, each with its ticket's headline."""
    rows = (
        await session.execute(
            select(Task, Ticket.flow_key, Ticket.caller, Ticket.fields)
            .join(Ticket, Ticket.id == Task.ticket_id)
            .where(Task.tenant == tenant, Task.assignee == person, Task.state.in_(OPEN_TASK_STATES))
            .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
            .limit(PAGE_LIMIT)
        )
    ).all()
    return [
        {**task_json(task, now), "flow": flow, "caller": caller, "fields": fields}
        for task, flow, caller, fields in rows
    ]


async def flow_graph(session: AsyncSession, tenant: str, key: str, now: datetime) -> dict[str, Any] | None:
    """Nodes and edges of the newest version, with open and overdue ticket counts per node (all versions)."""
    info = (await latest_versions(session, tenant)).get(key)
    if info is None:
        return None
    open_rows = (
        await session.execute(
            select(Ticket.current_node, func.count())
            .where(Ticket.tenant == tenant, Ticket.flow_key == key, Ticket.state == TicketState.OPEN)
            .group_by(Ticket.current_node)
        )
    ).all()
    late_rows = (
        await session.execute(
            select(Ticket.current_node, func.count())
            .where(
                Ticket.tenant == tenant,
                Ticket.flow_key == key,
                Ticket.state == TicketState.OPEN,
                Ticket.id.in_(_overdue_tasks(tenant, now)),
            )
            .group_by(Ticket.current_node)
        )
    ).all()
    opened, late = dict(open_rows), dict(late_rows)
    flow = info.flow
    return {
        "key": key,
        "version": info.version,
        "version_id": info.id,
        "nodes": [
            {
                "key": k,
                "type": n.type,
                "name": n.name or k,
                "mode": n.mode,
                "sla_s": n.sla.duration if n.sla else None,
                "open": opened.get(k, 0),
                "overdue": late.get(k, 0),
            }
            for k, n in flow.nodes.items()
        ],
        "edges": [{"from": t.from_, "to": t.to, "when": t.when} for t in flow.transitions],
    }
