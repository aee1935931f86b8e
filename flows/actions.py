"""What people do to tasks: claim, approve, reject, handle, transfer, comment, cancel, reopen.

Strategy: ``perform`` takes a list of requests (the API sends one; bulk
callers and the benchmark send many) and runs them in the caller's
transaction. It first locks every ticket involved and reads their tasks
(``flows.locking``), so two people acting on one ticket at once are
serialized and the second sees the first's result. Requests and their bodies
are ``flows.action_types``.
Each request is checked completely (permissions, states, body) before it
changes anything; a refused request becomes an ``ActionRefused`` in the result
list and leaves the others alone. Writes go through ``Workspace.flush``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flows import engine
from flows.action_types import (
    Action,
    ActionRequest,
    ActionResult,
    Actor,
    Body,
    Comment,
    Handle,
    Reason,
    Transfer,
    parse_body,
)
from flows.errors import ActionRefused, BadAction, Conflict, Forbidden, InvalidFields, NotFound
from flows.fields import coerce_fields
from flows.locking import lock_tickets, ticket_tasks
from flows.models import OPEN_TASK_STATES, EventKind, TaskState, TicketState
from flows.nodes import Behaviour
from flows.workspace import PresenceSource, TaskRec, TicketDraft, Workspace
from hotline.tokens import Role

__all__ = ["Action", "ActionRequest", "ActionResult", "Actor", "perform"]

_LIVE = (*OPEN_TASK_STATES, TaskState.WAITING)


def _state_text(task: TaskRec) -> str:
    by = f" by {task.acted_by}" if task.acted_by else ""
    at = f" at {task.acted_at.isoformat()}" if task.acted_at else ""
    return f"task {task.id} is {task.state}{by}{at}"


class _Run:
    """Applies requests to the locked tickets of one transaction."""

    def __init__(self, ws: Workspace, actor: Actor, tasks: list[TaskRec]) -> None:
        self.ws = ws
        self.actor = actor
        self.tasks = tasks
        self.by_id = {k.id: k for k in tasks}
        self._of_ticket: dict[int, list[TaskRec]] = {}
        for k in tasks:
            self._of_ticket.setdefault(id(k.ticket), []).append(k)
        self._indexed = 0  # how many of ``ws.tasks`` are in ``_of_ticket`` already
        self.changed: dict[int, TicketDraft] = {}

    def _allow(self, ticket: TicketDraft, what: str) -> None:
        if self.actor.role not in getattr(ticket.flow.permissions, what):
            raise Forbidden(f"role {self.actor.role!r} may not {what} tickets of flow {ticket.flow.key!r}")

    def _mine(self, task: TaskRec) -> None:
        if task.assignee is None or task.assignee != self.actor.person:
            me = self.actor.person or f"no person (token name {self.actor.label!r} is not a person id)"
            owner = task.assignee or "nobody (an admin must transfer it)"
            raise Forbidden(f"task {task.id} is assigned to {owner}; you act as {me}")

    @staticmethod
    def _live(task: TaskRec, states: Sequence[TaskState] = OPEN_TASK_STATES) -> None:
        if task.state not in states:
            raise Conflict(_state_text(task))
        if task.ticket.state is not TicketState.OPEN:
            raise Conflict(f"ticket {task.ticket.id} is {task.ticket.state}")

    def _siblings(self, task: TaskRec) -> list[TaskRec]:
        return [
            k
            for k in self._ticket_tasks(task.ticket)
            if k.node == task.node and k.step == task.step and k is not task
        ]

    def _finish(self, task: TaskRec, state: TaskState, outcome: str | None) -> None:
        self.ws.change(task, state=state, outcome=outcome, acted_by=self.actor.label, acted_at=self.ws.now)
        if self.actor.person:
            task.ticket.actors[task.node] = self.actor.person

    def _ticket_tasks(self, ticket: TicketDraft) -> list[TaskRec]:
        """The ticket's tasks: loaded with it, plus those made earlier in this transaction.

        Indexed by ticket (new tasks as they appear in ``ws.tasks``), so a bulk
        call stays linear in the number of requests.
        """
        made = self.ws.tasks
        for k in made[self._indexed :]:
            if k.id is None:
                self._of_ticket.setdefault(id(k.ticket), []).append(k)
        self._indexed = len(made)
        return self._of_ticket.get(id(ticket), [])

    def _cancel_tasks(self, tasks: Sequence[TaskRec]) -> list[str | None]:
        gone = [k for k in tasks if k.state in _LIVE]
        for k in gone:
            self.ws.change(k, state=TaskState.CANCELLED, acted_by=self.actor.label, acted_at=self.ws.now)
        return [k.assignee for k in gone]

    async def apply(self, request: ActionRequest) -> ActionResult:
        task = self.by_id.get(request.task_id)
        if task is None:
            raise NotFound(f"no task {request.task_id}")
        body = parse_body(request)
        self._allow(task.ticket, "view")
        if getattr(body, "version", None) is not None and body.version != task.version:
            raise Conflict(f"task {task.id} is at version {task.version}, not {body.version}; reload it")
        handler = getattr(self, f"_{request.action}")
        await handler(task, body)
        self.changed[task.ticket.id] = task.ticket  # type: ignore[index]
        ticket = task.ticket
        return ActionResult(
            task.id or 0,
            ticket.id or 0,
            request.action,
            task.state,
            task.version + int(task.dirty),
            ticket.state,
            ticket.current_node,
            ticket.result,
        )

    def _node(self, task: TaskRec, behaviour: Behaviour, action: str) -> Any:
        node = task.ticket.flow.nodes[task.node]
        if engine.kind_of(node).behaviour is not behaviour:
            raise BadAction(f"task {task.id} is a {node.type} task; {action} does not apply to it")
        return node

    async def _decide(self, task: TaskRec, outcome: str) -> None:
        await engine.decide(task.ticket, task.node, outcome, self.ws, self.actor.label)

    async def _approve(self, task: TaskRec, body: Body, approve: bool = True) -> None:
        node = self._node(task, Behaviour.APPROVE, "approve" if approve else "reject")
        self._allow(task.ticket, "act")
        self._live(task)
        self._mine(task)
        outcome = "approved" if approve else "rejected"
        self._finish(task, TaskState.APPROVED if approve else TaskState.REJECTED, outcome)
        self.ws.event(
            task.ticket,
            EventKind.APPROVED if approve else EventKind.REJECTED,
            self.actor.label,
            task_id=task.id,
            from_node=task.node,
            data={"comment": body.comment} if body.comment else None,
        )
        siblings = self._siblings(task)
        if not approve or node.mode == "any":
            self._cancel_tasks(siblings)
            await self._decide(task, outcome)
        elif node.mode == "all":
            if all(k.state is TaskState.APPROVED for k in siblings):
                await self._decide(task, outcome)
        else:
            waiting = sorted((k for k in siblings if k.state is TaskState.WAITING), key=lambda k: k.seq)
            if waiting:
                due = self.ws.now + timedelta(seconds=waiting[0].sla_s) if waiting[0].sla_s else None
                self.ws.change(waiting[0], state=TaskState.PENDING, activated_at=self.ws.now, due_at=due)
            else:
                await self._decide(task, outcome)

    async def _reject(self, task: TaskRec, body: Body) -> None:
        await self._approve(task, body, approve=False)

    async def _handle(self, task: TaskRec, body: Handle) -> None:
        node = self._node(task, Behaviour.HANDLE, "handle")
        self._allow(task.ticket, "act")
        self._live(task)
        self._mine(task)
        choices = node.outcomes or list(engine.kind_of(node).outcomes)
        outcome = body.outcome or choices[0]
        clean, problems, unknown = coerce_fields(
            body.fields, task.ticket.flow.fields, (await self.ws.directory()).people
        )
        problems.update({name: "not a field of this flow" for name in unknown})
        if outcome not in choices:
            problems["outcome"] = f"must be one of {', '.join(choices)}"
        if problems:
            raise InvalidFields(problems)
        ticket = task.ticket
        changes = {k: [ticket.fields.get(k), v] for k, v in clean.items() if ticket.fields.get(k) != v}
        ticket.fields.update(clean)
        self._finish(task, TaskState.DONE, outcome)
        data = {"outcome": outcome, **({"comment": body.comment} if body.comment else {})}
        self.ws.event(
            ticket,
            EventKind.HANDLED,
            self.actor.label,
            task_id=task.id,
            from_node=task.node,
            changes=changes or None,
            data=data,
        )
        siblings = self._siblings(task)
        if node.mode == "any":
            self._cancel_tasks(siblings)
            await self._decide(task, outcome)
        elif all(k.state is TaskState.DONE for k in siblings):
            await self._decide(task, outcome)

    async def _claim(self, task: TaskRec, body: Body) -> None:
        node = task.ticket.flow.nodes[task.node]
        if engine.kind_of(node).behaviour not in (Behaviour.APPROVE, Behaviour.HANDLE):
            raise BadAction(f"task {task.id} cannot be claimed")
        self._allow(task.ticket, "act")
        self._live(task, (TaskState.PENDING,))
        self._mine(task)
        self.ws.change(task, state=TaskState.CLAIMED)
        taken = self._cancel_tasks(self._siblings(task)) if node.mode == "any" else []
        self.ws.event(
            task.ticket,
            EventKind.CLAIMED,
            self.actor.label,
            task_id=task.id,
            from_node=task.node,
            data={"took_from": taken} if taken else None,
        )

    async def _transfer(self, task: TaskRec, body: Transfer) -> None:
        self._allow(task.ticket, "act")
        self._live(task, _LIVE)
        if self.actor.role is not Role.ADMIN:
            self._mine(task)
        person = (await self.ws.directory()).people.get(body.to)
        if person is None or not person.active:
            raise InvalidFields({"to": f"no active person {body.to!r} in this tenant"})
        if body.to == task.assignee:
            raise BadAction(f"task {task.id} is already assigned to {body.to}")
        previous = task.assignee
        state = TaskState.PENDING if task.state is TaskState.CLAIMED else task.state
        self.ws.change(task, assignee=body.to, state=state)
        self.ws.event(
            task.ticket,
            EventKind.TRANSFERRED,
            self.actor.label,
            task_id=task.id,
            from_node=task.node,
            data={"from": previous, "to": body.to, **({"comment": body.comment} if body.comment else {})},
        )

    async def _comment(self, task: TaskRec, body: Comment) -> None:
        self.ws.event(
            task.ticket,
            EventKind.COMMENTED,
            self.actor.label,
            task_id=task.id,
            from_node=task.node,
            data={"text": body.text},
        )

    async def _cancel(self, task: TaskRec, body: Reason) -> None:
        self._allow(task.ticket, "cancel")
        ticket = task.ticket
        if ticket.state is not TicketState.OPEN:
            raise Conflict(f"ticket {ticket.id} is {ticket.state}")
        self._cancel_tasks(list(self._ticket_tasks(ticket)))
        ticket.state, ticket.closed_at, ticket.updated_at = TicketState.CANCELLED, self.ws.now, self.ws.now
        self.ws.event(
            ticket,
            EventKind.CANCELLED,
            self.actor.label,
            task_id=task.id,
            from_node=ticket.current_node,
            data={"reason": body.reason} if body.reason else None,
        )

    async def _reopen(self, task: TaskRec, body: Reason) -> None:
        self._allow(task.ticket, "reopen")
        ticket = task.ticket
        if ticket.state is TicketState.OPEN:
            raise Conflict(f"ticket {ticket.id} is open; only closed or cancelled tickets can be reopened")
        ticket.state, ticket.result, ticket.closed_at = TicketState.OPEN, None, None
        self.ws.event(
            ticket,
            EventKind.REOPENED,
            self.actor.label,
            task_id=task.id,
            from_node=ticket.current_node,
            to_node=task.node,
            data={"reason": body.reason} if body.reason else None,
        )
        decided = await engine.enter(
            ticket, task.node, self.ws, self.actor.label, from_node=None, outcome=None
        )
        if decided is not None:
            await engine.decide(ticket, *decided, self.ws, self.actor.label)


async def perform(
    session: AsyncSession,
    tenant: str,
    actor: Actor,
    requests: Sequence[ActionRequest],
    *,
    now: datetime,
    presence: PresenceSource | None = None,
) -> list[ActionResult | ActionRefused]:
    """Apply ``requests`` in order inside the caller's transaction; one result (or refusal) per request."""
    tickets = await lock_tickets(session, tenant, sorted({r.task_id for r in requests}))
    tasks = await ticket_tasks(session, tickets) if tickets else []
    ws = Workspace(session, tenant, now, presence=presence)
    run = _Run(ws, actor, tasks)
    results: list[ActionResult | ActionRefused] = []
    for request in requests:
        try:
            results.append(await run.apply(request))
        except ActionRefused as refused:
            results.append(refused)
    new_tasks = [k for k in ws.tasks if k.id is None]
    ws.tickets = list(run.changed.values())
    ws.tasks = [k for k in tasks if k.dirty] + new_tasks
    await ws.flush()
    return results
