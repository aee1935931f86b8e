"""Moving a ticket through its flow: entering nodes, deciding them, following transitions.

Strategy: three entry points change a ``TicketDraft`` in a ``Workspace``:
``start`` (a new ticket enters the create node), ``decide`` (a node ended
with an outcome: record it, take the first transition whose condition holds,
enter the target) and ``enter`` (make the node's tasks, notify its CC, or
close the ticket). Automatic nodes decide on entry, so one call runs until a
person is needed or the ticket closes; the checker forbids loops of automatic
nodes and ``MAX_HOPS`` guards a definition that slipped past it. A condition
that fails on the values (``amount < 200`` without an amount) is recorded on
the timeline and counts as false; every flow ends with a default transition,
so a ticket always moves.
"""

from __future__ import annotations

from datetime import timedelta

from flows.assign import resolve
from flows.conditions import ConditionError
from flows.definition import NodeDef
from flows.errors import FlowRuntimeError
from flows.models import EventKind, TaskState, TicketState
from flows.nodes import Behaviour, NodeKind, node_kinds
from flows.workspace import TaskRec, TicketDraft, Workspace

__all__ = ["MAX_HOPS", "SYSTEM", "decide", "enter", "kind_of", "start"]

MAX_HOPS = 64
SYSTEM = "system"


def kind_of(node: NodeDef) -> NodeKind:
    """The node's type; a type that vanished since deploy (plug-in uninstalled) is a runtime error."""
    kind = node_kinds()[0].get(node.type)
    if kind is None:
        raise FlowRuntimeError(f"node type {node.type!r} is not installed")
    return kind


def _choose(ticket: TicketDraft, node_key: str, outcome: str, ws: Workspace, actor: str) -> str:
    names = ticket.names(outcome)
    for target, condition in ticket.flow.compiled.get(node_key, []):
        if condition is None:
            return target
        try:
            if condition.evaluate(names):
                return target
        except ConditionError as exc:
            ws.event(
                ticket,
                EventKind.CONDITION_FAILED,
                actor,
                from_node=node_key,
                to_node=target,
                data={"condition": condition.text, "error": exc.message},
            )
    raise FlowRuntimeError(f"flow {ticket.flow.key!r}: no transition out of {node_key!r} holds")


async def start(ticket: TicketDraft, ws: Workspace, actor: str) -> None:
    """Put a new ticket on its flow's create node and run it until someone has to act."""
    ws.new_tickets.append(ticket)
    decided = await enter(ticket, ticket.flow.start, ws, actor, from_node=None, outcome=None)
    if decided is not None:
        await decide(ticket, *decided, ws, actor)


async def decide(ticket: TicketDraft, node_key: str, outcome: str, ws: Workspace, actor: str) -> None:
    """Node ``node_key`` ended with ``outcome``: record it and move on along the first transition that holds."""
    hops = 0
    while True:
        ticket.outcomes[node_key] = outcome
        target = _choose(ticket, node_key, outcome, ws, actor)
        nxt = await enter(ticket, target, ws, actor, from_node=node_key, outcome=outcome)
        if nxt is None:
            return
        node_key, outcome = nxt
        hops += 1
        if hops > MAX_HOPS:
            raise FlowRuntimeError(f"flow {ticket.flow.key!r}: more than {MAX_HOPS} automatic steps in a row")


async def enter(
    ticket: TicketDraft,
    node_key: str,
    ws: Workspace,
    actor: str,
    *,
    from_node: str | None,
    outcome: str | None,
) -> tuple[str, str] | None:
    """Enter a node. Returns (node, outcome) when it decided at once (automatic), else ``None``."""
    node = ticket.flow.nodes[node_key]
    kind = kind_of(node)
    ticket.step += 1
    ticket.current_node = node_key
    ticket.updated_at = ws.now
    data: dict[str, object] = {"outcome": outcome} if outcome is not None else {}
    if kind.behaviour in (Behaviour.APPROVE, Behaviour.HANDLE):
        data.update(await _make_tasks(ticket, node_key, node, ws))
    if from_node is not None or kind.behaviour is not Behaviour.AUTO:
        ws.event(ticket, EventKind.MOVED, actor, from_node=from_node, to_node=node_key, data=data or None)
    await _notify(ticket, node_key, node, kind, ws, actor)
    if kind.behaviour is Behaviour.CLOSE:
        ticket.state, ticket.result, ticket.closed_at = TicketState.CLOSED, node.result or node_key, ws.now
        ws.event(ticket, EventKind.CLOSED, actor, to_node=node_key, data={"result": ticket.result})
        return None
    if kind.behaviour is Behaviour.AUTO:
        decided = kind.decide(ticket.fields, node.options) if kind.decide else kind.outcomes[0]
        return node_key, decided
    return None


async def _notify(
    ticket: TicketDraft, node_key: str, node: NodeDef, kind: NodeKind, ws: Workspace, actor: str
) -> None:
    refs = list(node.cc) + (list(node.assignees) if kind.behaviour is Behaviour.AUTO else [])
    if not refs:
        return
    people = resolve(refs, await ws.directory(), ticket.fields, ticket.actors)
    reason = "cc" if kind.behaviour is not Behaviour.AUTO else node.type
    ws.event(ticket, EventKind.NOTIFIED, actor, to_node=node_key, data={"people": people, "reason": reason})


async def _make_tasks(ticket: TicketDraft, node_key: str, node: NodeDef, ws: Workspace) -> dict[str, object]:
    """One task per assignee (the first alone active in a sequence); returns what the timeline shows."""
    directory = await ws.directory()
    assigner = await ws.assigner()
    candidates = resolve(node.assignees, directory, ticket.fields, ticket.actors)
    pick = await assigner.pick(node, f"{ticket.flow.key}:{node_key}", candidates)
    due = timedelta(seconds=node.sla.duration) if node.sla else None
    plan = ticket.flow.warning_plans[node_key]
    for seq, person in enumerate(pick.people or [None]):
        active = node.mode != "sequence" or seq == 0
        ws.add_task(
            TaskRec(
                ticket=ticket,
                node=node_key,
                node_type=node.type,
                step=ticket.step,
                seq=seq,
                assignee=person,
                state=TaskState.PENDING if active else TaskState.WAITING,
                created_at=ws.now,
                activated_at=ws.now if active else None,
                due_at=ws.now + due if active and due else None,
                sla_s=node.sla.duration if node.sla else None,
                business_hours=bool(node.sla and node.sla.business_hours),
                warning_plan=plan,
                callback=ticket.caller if node.callback and ticket.caller else None,
            )
        )
    shown: dict[str, object] = {"assigned": pick.people}
    if pick.note:
        shown["note"] = pick.note
    return shown
