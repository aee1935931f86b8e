"""The ticket list and the ticket page: fields, tasks with their SLA countdown, actions, and one timeline.

The timeline merges the ticket's own events with the trajectory of the call
that opened it (``calls`` table), so the page tells the whole story from the
first key press. Buttons are offered by the same rules ``flows.actions``
enforces (the flow's ``permissions``, the task's assignee and state, the
node's behaviour); the scripts post to ``/api/v1/tasks/{id}/actions/{action}``
and that API remains the judge.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from api.appkeys import SESSIONS
from api.auth import Principal, principal
from api.pages.render import error_page, render
from flows.definition import FlowDef
from flows.engine import kind_of
from flows.models import TicketState
from flows.nodes import Behaviour
from flows.people_store import person_named
from flows.queries import list_tickets, ticket_detail
from flows.versions import definitions
from hotline.models import Call, utcnow
from hotline.tokens import Role

__all__ = ["routes", "task_actions", "timeline"]

routes = web.RouteTableDef()
_OPEN = ("pending", "claimed")
_TASK_BEHAVIOURS = (Behaviour.APPROVE, Behaviour.HANDLE)


def task_actions(task: dict[str, Any], ticket_open: bool, flow: FlowDef, who: Principal,
                 person: str | None) -> list[str]:
    """The actions ``who`` (acting as ``person``) may take on ``task`` now, in button order."""
    node = flow.nodes.get(task["node"])
    if not ticket_open or node is None or task["state"] not in _OPEN or who.role not in flow.permissions.act:
        return []
    behaviour = kind_of(node).behaviour
    mine = person is not None and task["assignee"] == person
    actions = []
    if mine and behaviour in _TASK_BEHAVIOURS:
        if task["state"] == "pending":
            actions.append("claim")
        actions += ["approve", "reject"] if behaviour is Behaviour.APPROVE else ["handle"]
    if mine or who.role is Role.ADMIN:
        actions.append("transfer")
    return actions


def _call_steps(call: Call) -> list[dict[str, Any]]:
    """The call's trajectory as timeline entries (``at`` is the call's start plus each step's offset)."""
    out = []
    for row in call.trajectory:
        at_ms, kind, menu, node, value = row[:5]
        detail = f"{menu}/{node}" + (f": {value}" if value else "")
        at = call.started_at + timedelta(milliseconds=at_ms)
        out.append({"at": at.isoformat(), "actor": f"caller {call.caller}", "kind": f"ivr {kind}", "detail": detail,
                    "source": "call"})
    if call.outcome:
        at = (call.ended_at or call.started_at).isoformat()
        out.append({"at": at, "actor": "ivr", "kind": f"call {call.outcome}", "source": "call",
                    "detail": f"left the IVR at {call.outcome_node}" if call.outcome_node else ""})
    return out


def _event_detail(event: dict[str, Any]) -> str:
    parts = []
    if event["from_node"] or event["to_node"]:
        parts.append(" → ".join(n for n in (event["from_node"], event["to_node"]) if n))
    if event["changes"]:
        parts.append(", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in event["changes"].items()))
    if event["data"]:
        parts.append(", ".join(f"{k}: {v}" for k, v in event["data"].items()))
    return "; ".join(parts)


def timeline(ticket: dict[str, Any], call: Call | None) -> list[dict[str, Any]]:
    """Ticket events and the opening call's steps, oldest first."""
    events = [{"at": e["at"], "actor": e["actor"], "kind": e["kind"], "detail": _event_detail(e), "source": "ticket"}
              for e in ticket["timeline"]]
    merged = (_call_steps(call) if call else []) + events
    return sorted(merged, key=lambda e: datetime.fromisoformat(e["at"]))


@routes.get("/tickets")
async def ticket_list(request: web.Request) -> web.Response:
    who = principal(request)
    wanted = request.query.get("state", TicketState.OPEN.value)
    state = TicketState(wanted) if wanted in {s.value for s in TicketState} else None
    async with request.app[SESSIONS]() as session:
        tickets = await list_tickets(session, who.tenant, who.role, utcnow(), state=state, limit=100)
    return render(request, "tickets.html", title="Tickets", tickets=tickets, state=state.value if state else "all",
                  states=["all", *(s.value for s in TicketState)])


@routes.get("/tickets/{id}")
async def ticket_page(request: web.Request) -> web.Response:
    who = principal(request)
    raw = request.match_info["id"]
    ticket_id = int(raw) if raw.isdigit() else -1
    async with request.app[SESSIONS]() as session:
        ticket = await ticket_detail(session, who.tenant, who.role, ticket_id, utcnow())
        if ticket is None:
            return error_page(request, 404, f"No ticket {raw}.")
        flow = (await definitions(session, [ticket["flow_version_id"]]))[ticket["flow_version_id"]]
        person = await person_named(session, who.tenant, who.name)
        call = (await session.execute(select(Call).where(Call.tenant == who.tenant,
                                                         Call.call_id == ticket["call_id"]))).scalar_one_or_none()
    is_open = ticket["state"] == TicketState.OPEN
    tasks = [{**t, "actions": task_actions(t, is_open, flow, who, person),
              "outcomes": list(flow.nodes[t["node"]].outcomes or kind_of(flow.nodes[t["node"]]).outcomes)
              if t["node"] in flow.nodes else []} for t in ticket["tasks"]]
    last_task = ticket["tasks"][-1]["id"] if ticket["tasks"] else None
    ticket_actions = [a for a, allowed in (
        ("cancel", is_open and who.role in flow.permissions.cancel),
        ("reopen", not is_open and who.role in flow.permissions.reopen),
        ("comment", True)) if allowed and last_task is not None]
    return render(request, "ticket.html", title=f"Ticket {ticket['id']}", ticket=ticket, flow=flow, tasks=tasks,
                  person=person, timeline=timeline(ticket, call), last_task=last_task, ticket_actions=ticket_actions)
