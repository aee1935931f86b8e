"""Transfer, comment, cancel, reopen, the inbox, list filters, the graph, and the precise refusals."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from flows.models import Task
from hotline.models import utcnow
from tests.flows.conftest import Desk


async def test_refusals_are_precise(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("r", amount=500)
    [task] = await desk.open_tasks(ticket_id)
    other = "sue" if task["assignee"] == "sam" else "sam"
    cases = [
        ((task, "fly", {}), 400, "unknown action"),
        ((task, "approve", {"surprise": 1}), 400, "approve body"),
        ((task, "handle", {}), 400, "does not apply"),
        ((task, "approve", {"version": task["version"] + 5}), 409, "reload it"),
        ((task, "approve", {}, other), 403, f"assigned to {task['assignee']}; you act as {other}"),
        ((task, "approve", {}, "nobody-at-all"), 403, "is not a person id"),
        ((task, "cancel", {}), 403, "may not cancel"),
        (({"id": 999999, "assignee": "sue"}, "approve", {}), 404, "no task 999999"),
    ]
    for args, status, text in cases:
        got, body = await desk.act(*args)
        assert got == status and text in body["error"]["message"], (args[1], got, body)
    response = await desk.api.client.post(
        f"/api/v1/tasks/{task['id']}/actions/approve",
        data=b"{nope",
        headers=await desk.headers(task["assignee"]),
    )
    assert response.status == 400
    response = await desk.api.client.post(
        f"/api/v1/tasks/{task['id']}/actions/approve", json={}, headers=await desk.headers("viewer", "viewer")
    )
    assert response.status == 403


async def test_handle_refuses_values_the_flow_schema_rejects(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("h", amount=300)
    for _ in range(2):
        [task] = await desk.open_tasks(ticket_id)
        await desk.act(task, "approve")
    [apply] = await desk.open_tasks(ticket_id)
    status, body = await desk.act(
        apply, "handle", {"fields": {"applied_amount": "lots", "colour": "red"}, "outcome": "maybe"}
    )
    assert status == 422 and body["error"]["code"] == "invalid"
    for part in ("applied_amount: expected a number", "colour: not a field", "outcome: must be one of done"):
        assert part in body["error"]["message"]


async def test_transfer_comment_cancel_and_reopen_leave_a_timeline(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("t", amount=500)
    [task] = await desk.open_tasks(ticket_id)
    status, body = await desk.act(task, "transfer", {"to": "hana", "comment": "on leave"})
    assert status == 200
    [moved] = await desk.open_tasks(ticket_id)
    assert moved["assignee"] == "hana" and moved["id"] == task["id"]
    assert (await desk.act(task, "approve"))[0] == 403  # no longer theirs
    assert (await desk.act(moved, "comment", {"text": "looking"}))[0] == 200
    assert (await desk.act(moved, "cancel", {"reason": "duplicate"}, as_="admin", role="admin"))[0] == 200
    assert (await desk.act(moved, "approve"))[0] == 409
    status, body = await desk.act(moved, "reopen", {"reason": "not a duplicate"}, as_="admin", role="admin")
    assert status == 200 and body["ticket"] == {
        "id": ticket_id,
        "state": "open",
        "current_node": "supervisor",
        "result": None,
    }
    ticket = await desk.ticket(ticket_id)
    assert [e["kind"] for e in ticket["timeline"]] == [
        "created",
        "moved",
        "transferred",
        "commented",
        "cancelled",
        "reopened",
        "moved",
    ]
    transferred = ticket["timeline"][2]
    assert transferred["actor"] == task["assignee"] and transferred["data"] == {
        "from": task["assignee"],
        "to": "hana",
        "comment": "on leave",
    }
    assert len(await desk.open_tasks(ticket_id)) == 1


async def test_inbox_lists_the_token_persons_open_tasks(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("i", amount=500)
    [task] = await desk.open_tasks(ticket_id)
    status, body = await desk.get("/api/v1/inbox", name=task["assignee"], role="agent")
    assert status == 200 and [t["id"] for t in body["tasks"]] == [task["id"]]
    assert body["tasks"][0]["caller"] == "13800138000" and body["person"] == task["assignee"]
    status, body = await desk.get("/api/v1/inbox", name="robot", role="agent")
    assert status == 403 and "--name" in body["error"]["message"]


async def test_list_filters_and_the_graph_count_open_and_overdue(desk: Desk) -> None:
    late = await desk.new_ticket("late", amount=500, caller="1")
    await desk.new_ticket("fresh", amount=500, caller="2")
    closed = await desk.new_ticket("closed", amount=150, caller="3")
    [task] = await desk.open_tasks(closed)
    await desk.act(task, "approve")
    async with desk.sessions.begin() as session:
        await session.execute(
            update(Task).where(Task.ticket_id == late).values(due_at=utcnow() - timedelta(hours=1))
        )
    [late_task] = await desk.open_tasks(late)

    async def ids(query: str) -> list[int]:
        status, body = await desk.get(f"/api/v1/tickets?{query}")
        assert status == 200, body
        return sorted(t["id"] for t in body["tickets"])

    assert await ids("overdue=true") == [late]
    assert len(await ids("state=open")) == 2 and await ids("state=closed") == [closed]
    assert late in await ids(f"assignee={late_task['assignee']}&flow=fee_reduction")
    assert (await desk.get("/api/v1/tickets?state=sleeping"))[0] == 400
    assert (await desk.get("/api/v1/tickets?overdue=maybe"))[0] == 400
    status, graph = await desk.get("/api/v1/flows/fee_reduction/graph")
    supervisor = next(n for n in graph["nodes"] if n["key"] == "supervisor")
    assert (supervisor["open"], supervisor["overdue"], supervisor["sla_s"]) == (2, 1, 3600)
    assert {"from": "supervisor", "to": "closed", "when": "amount < 200"} in graph["edges"]
    assert (await desk.get("/api/v1/flows/nope/graph"))[0] == 404


async def test_one_bulk_call_cancels_tasks_it_made_itself(desk: Desk) -> None:
    """Approve then cancel in one ``perform``: the manager task the approval made is cancelled with the ticket."""
    from sqlalchemy import select

    from flows.actions import Action, ActionRequest, ActionResult, Actor, perform
    from flows.models import TaskState, TicketState
    from hotline.tokens import Role

    ticket_id = await desk.new_ticket("bulk", amount=500)
    [task] = await desk.open_tasks(ticket_id)
    actor = Actor(task["assignee"], Role.ADMIN, task["assignee"])
    requests = [ActionRequest(task["id"], Action.APPROVE), ActionRequest(task["id"], Action.CANCEL)]
    async with desk.sessions.begin() as session:
        results = await perform(session, desk.tenant, actor, requests, now=utcnow())
    assert all(isinstance(r, ActionResult) for r in results), results
    assert results[-1].ticket_state is TicketState.CANCELLED
    async with desk.sessions() as session:
        rows = (
            await session.execute(select(Task.node, Task.state).where(Task.ticket_id == ticket_id).order_by(Task.id))
        ).all()
    assert [(r.node, r.state) for r in rows] == [
        ("supervisor", TaskState.APPROVED),
        ("manager", TaskState.CANCELLED),
    ]
