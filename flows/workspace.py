"""One transaction's worth of flow work: tickets and tasks in memory, written with Core at the end.

Strategy: the engine and the actions change plain dataclasses (``TicketDraft``,
``TaskRec``) and append ``EventRec`` timeline entries; ``Workspace.flush``
then writes everything with a handful of executemany statements (new tickets
with ``ON CONFLICT DO NOTHING ... RETURNING`` so a ticket another worker
created first is skipped with everything hanging off it), plus the open-task
counter and round-robin cursor deltas. The workspace never commits: the edge
(stream handler, API request, CLI) owns the transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from alerts.hooks import EscalationRequest, escalate_tasks, settle_tasks
from flows.assign import Assigner
from flows.definition import FlowDef
from flows.directory import Directory
from flows.models import (
    OPEN_TASK_STATES,
    AssignCursor,
    EventKind,
    Person,
    Task,
    TaskState,
    Ticket,
    TicketEvent,
    TicketState,
)
from flows.people_store import load_directory
from hotline.bulk import insert_rows, update_rows
from hotline.logs import get_logger

__all__ = ["EventRec", "PresenceSource", "TaskRec", "TicketDraft", "Workspace"]

log = get_logger(__name__)
PresenceSource = Callable[[], Awaitable[frozenset[str]]]
_TICKET_COLUMNS = (
    "state",
    "result",
    "current_node",
    "step",
    "fields",
    "outcomes",
    "actors",
    "repeat",
    "last_call_at",
    "updated_at",
    "closed_at",
)
_TASK_COLUMNS = ("assignee", "state", "outcome", "acted_by", "acted_at", "activated_at", "due_at")
#: What tells a new task's row apart within one flush, to match inserted ids back (bulk RETURNING has no order).
_TASK_KEY = ("id", "ticket_id", "node", "step", "seq")


@dataclass(eq=False)
class TicketDraft:
    """A ticket as the engine sees it; ``id`` is None until a new one is inserted."""

    tenant: str
    flow: FlowDef
    flow_version_id: int
    template: str
    call_id: str
    caller: str
    opened_at: datetime
    last_call_at: datetime
    intent: str | None = None
    priority: str | None = None
    state: TicketState = TicketState.OPEN
    result: str | None = None
    current_node: str = ""
    step: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    actors: dict[str, str] = field(default_factory=dict)
    repeat: int = 0
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    id: int | None = None
    skipped: bool = False

    def names(self, outcome: str | None) -> dict[str, Any]:
        """What a transition condition sees: fields, node outcomes, ``repeat`` and ``outcome``."""
        return {**self.fields, **self.outcomes, "repeat": self.repeat, "outcome": outcome}

    def row(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "flow_key": self.flow.key,
            "flow_version_id": self.flow_version_id,
            "template": self.template,
            "intent": self.intent,
            "call_id": self.call_id,
            "caller": self.caller,
            "priority": self.priority,
            "opened_at": self.opened_at,
            "version": self.version,
            **{c: getattr(self, c) for c in _TICKET_COLUMNS},
        }


@dataclass(eq=False)
class TaskRec:
    """A task row in memory; ``was`` keeps (assignee, state) as loaded, to move the load counters."""

    ticket: TicketDraft
    node: str
    node_type: str
    step: int
    state: TaskState
    seq: int = 0
    assignee: str | None = None
    outcome: str | None = None
    acted_by: str | None = None
    acted_at: datetime | None = None
    created_at: datetime | None = None
    activated_at: datetime | None = None
    due_at: datetime | None = None
    sla_s: float | None = None
    business_hours: bool = False
    warning_plan: list[dict[str, Any]] = field(default_factory=list)
    callback: str | None = None
    version: int = 1
    id: int | None = None
    was: tuple[str | None, TaskState | None] = (None, None)
    dirty: bool = False

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_TASK_STATES


@dataclass(eq=False)
class EventRec:
    ticket: TicketDraft
    kind: EventKind
    actor: str
    at: datetime
    task_id: int | None = None
    from_node: str | None = None
    to_node: str | None = None
    changes: dict[str, Any] | None = None
    data: dict[str, Any] | None = None


def dialect_insert(conn: AsyncConnection) -> Any:
    """The backend's ``insert`` (for ``on_conflict_*``)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class Workspace:
    """Collects one transaction's changes for one tenant; ``flush`` writes them."""

    def __init__(
        self,
        session: AsyncSession,
        tenant: str,
        now: datetime,
        *,
        directory: Directory | None = None,
        presence: PresenceSource | None = None,
    ) -> None:
        self.session = session
        self.tenant = tenant
        self.now = now
        self._directory = directory
        self._presence = presence
        self._assigner: Assigner | None = None
        self.new_tickets: list[TicketDraft] = []
        self.tickets: list[TicketDraft] = []
        self.tasks: list[TaskRec] = []
        self.events: list[EventRec] = []

    async def directory(self) -> Directory:
        if self._directory is None:
            self._directory = await load_directory(self.session, self.tenant)
        return self._directory

    async def assigner(self) -> Assigner:
        if self._assigner is None:
            self._assigner = Assigner(await self.directory(), self)
        return self._assigner

    # -- Lookups for the Assigner ------------------------------------------------

    async def online(self) -> frozenset[str] | None:
        return await self._presence() if self._presence is not None else None

    async def open_tasks(self, people: Sequence[str]) -> dict[str, int]:
        c = Person.__table__.c
        rows = await self.session.execute(
            select(c.key, c.open_tasks).where(c.tenant == self.tenant, c.key.in_(people))
        )
        return {key: count for key, count in rows.all()}

    async def cursor(self, scope: str) -> int:
        c = AssignCursor.__table__.c
        found = await self.session.execute(
            select(c.position).where(c.tenant == self.tenant, c.scope == scope)
        )
        return found.scalar_one_or_none() or 0

    # -- recording ---------------------------------------------------------------

    def event(self, ticket: TicketDraft, kind: EventKind, actor: str, **details: Any) -> None:
        self.events.append(EventRec(ticket, kind, actor, self.now, **details))

    def add_task(self, task: TaskRec) -> None:
        self.tasks.append(task)
        if self._assigner is not None and task.is_open:
            self._assigner.moved(task.assignee, +1)

    def change(self, task: TaskRec, **values: Any) -> None:
        """Change a loaded (or new) task, keeping the in-memory load in step."""
        before = task.assignee if task.is_open else None
        for name, value in values.items():
            setattr(task, name, value)
        task.dirty = True
        after = task.assignee if task.is_open else None
        if self._assigner is not None and before != after:
            self._assigner.moved(before, -1)
            self._assigner.moved(after, +1)

    # -- writing -----------------------------------------------------------------

    async def flush(self) -> None:
        """Write every change; tickets whose insert met an existing key are skipped with their rows."""
        conn = await self.session.connection()
        await self._insert_tickets(conn)
        await self._update_tickets(conn)
        await self._write_tasks(conn)
        await insert_rows(
            conn,
            TicketEvent.__table__,
            [
                {
                    "tenant": self.tenant,
                    "ticket_id": e.ticket.id,
                    "task_id": e.task_id,
                    "at": e.at,
                    "actor": e.actor,
                    "kind": e.kind,
                    "from_node": e.from_node,
                    "to_node": e.to_node,
                    "changes": e.changes,
                    "data": e.data,
                }
                for e in self.events
                if not e.ticket.skipped
            ],
        )
        await self._write_counters(conn)
        self.new_tickets, self.tickets, self.tasks, self.events = [], [], [], []

    async def _insert_tickets(self, conn: AsyncConnection) -> None:
        if not self.new_tickets:
            return
        rows = await insert_rows(
            conn,
            Ticket.__table__,
            [d.row() for d in self.new_tickets],
            conflict=("tenant", "call_id", "template"),
            returning=("id", "call_id", "template"),
        )
        ids = {(r.call_id, r.template): r.id for r in rows}
        for draft in self.new_tickets:
            draft.id = ids.get((draft.call_id, draft.template))
            draft.skipped = draft.id is None

    async def _update_tickets(self, conn: AsyncConnection) -> None:
        if not self.tickets:
            return
        rows = [{"id": d.id, **{c: getattr(d, c) for c in _TICKET_COLUMNS}} for d in self.tickets]
        await update_rows(conn, Ticket.__table__, rows)

    async def _write_tasks(self, conn: AsyncConnection) -> None:
        t = Task.__table__
        new = [k for k in self.tasks if k.id is None and not k.ticket.skipped]
        changed = [k for k in self.tasks if k.id is not None and k.dirty]
        if new:
            inserted = await insert_rows(
                conn,
                t,
                [
                    {
                        "tenant": self.tenant,
                        "ticket_id": k.ticket.id,
                        "node": k.node,
                        "node_type": k.node_type,
                        "step": k.step,
                        "seq": k.seq,
                        "assignee": k.assignee,
                        "state": k.state,
                        "outcome": k.outcome,
                        "acted_by": k.acted_by,
                        "acted_at": k.acted_at,
                        "created_at": k.created_at or self.now,
                        "activated_at": k.activated_at,
                        "due_at": k.due_at,
                        "sla_s": k.sla_s,
                        "business_hours": k.business_hours,
                        "warning_plan": k.warning_plan,
                        "callback": k.callback,
                        "version": 1,
                    }
                    for k in new
                ],
                returning=_TASK_KEY,
            )
            ids = {tuple(row[1:]): row.id for row in inserted}
            for task in new:
                # dirty: still counts as new for the load counters
                task.id, task.dirty = ids[(task.ticket.id, task.node, task.step, task.seq)], True
        if changed:
            rows = [{"id": k.id, **{c: getattr(k, c) for c in _TASK_COLUMNS}} for k in changed]
            await update_rows(conn, t, rows, bump="version")
        await self._sla_clock(new, changed)

    async def _sla_clock(self, new: list[TaskRec], changed: list[TaskRec]) -> None:
        """Put tasks that became someone's work on the SLA clock; stop it for tasks acted on.

        One batched call each per flush (a few statements, not a few per task).
        Both are idempotent and run in this transaction, so a ticket and its
        escalation commit (or roll back) together.
        """
        unplanned: list[int | None] = []
        started: list[EscalationRequest] = []
        settled: dict[int | str, str] = {}
        for task in new + changed:
            was_open = task.was[1] in OPEN_TASK_STATES
            if not task.warning_plan:
                # ``escalate_tasks`` stores nothing for a plan without levels, so the engine never
                # started an escalation for this task: there is nothing to start or to settle.
                if was_open and not task.is_open and task.state is not TaskState.WAITING:
                    unplanned.append(task.id)
                continue
            if task.state is TaskState.PENDING and task.activated_at and task.sla_s and not was_open:
                started.append(EscalationRequest(
                    task_id=task.id, started_at=task.activated_at, limit=timedelta(seconds=task.sla_s),
                    warning_plan=task.warning_plan,
                    title=f"Ticket #{task.ticket.id} ({task.ticket.intent or task.ticket.template}): "
                          f"{task.node} is overdue",
                    text=f"Caller {task.ticket.caller or 'unknown'}; assigned to {task.assignee or 'nobody'}.",
                ))
            elif was_open and not task.is_open and task.state is not TaskState.WAITING:
                settled[task.id] = f"task {task.state}"
        if started:
            await escalate_tasks(self.session, self.tenant, started)
        if settled:
            await settle_tasks(self.session, self.tenant, settled)
        if unplanned:
            log.info(
                "no escalation to stop",
                tenant=self.tenant,
                task_ids=unplanned,
                why="the tasks' nodes have no warning levels, so none was started",
            )

    def _load_deltas(self) -> dict[str, int]:
        deltas: dict[str, int] = {}
        for k in self.tasks:
            if k.ticket.skipped or (k.id is not None and not k.dirty):
                continue
            before, was_state = k.was
            if before is not None and was_state in OPEN_TASK_STATES:
                deltas[before] = deltas.get(before, 0) - 1
            if k.assignee is not None and k.is_open:
                deltas[k.assignee] = deltas.get(k.assignee, 0) + 1
        return {p: d for p, d in deltas.items() if d}

    async def _write_counters(self, conn: AsyncConnection) -> None:
        p = Person.__table__
        deltas = self._load_deltas()
        if deltas:
            statement = (
                p.update()
                .where(p.c.tenant == self.tenant, p.c.key == bindparam("b_key"))
                .values(open_tasks=p.c.open_tasks + bindparam("b_delta"))
            )
            await conn.execute(statement, [{"b_key": k, "b_delta": d} for k, d in sorted(deltas.items())])
        moves = self._assigner.cursor_moves if self._assigner else {}
        if moves:
            c = AssignCursor.__table__
            insert = dialect_insert(conn)(c)
            statement = insert.on_conflict_do_update(
                index_elements=["tenant", "scope"], set_={"position": c.c.position + insert.excluded.position}
            )
            await conn.execute(
                statement, [{"tenant": self.tenant, "scope": s, "position": n} for s, n in moves.items()]
            )
            moves.clear()
