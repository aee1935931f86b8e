"""The shipped fee-reduction flow: each amount band takes its own path to the end."""

from __future__ import annotations

import pytest

from tests.flows.conftest import Desk


async def _approve_current(desk: Desk, ticket_id: int, node: str) -> None:
    [task] = await desk.open_tasks(ticket_id)
    assert task["node"] == node
    status, body = await desk.act(task, "approve", {"comment": f"ok from {node}"})
    assert status == 200, body


async def _finish_handling(desk: Desk, ticket_id: int) -> dict:
    [apply] = await desk.open_tasks(ticket_id)
    assert apply["node"] == "apply"
    status, body = await desk.act(apply, "handle", {"fields": {"applied_amount": "480.50"}})
    assert status == 200, body
    [revisit] = await desk.open_tasks(ticket_id)
    assert (revisit["node"], revisit["assignee"], revisit["callback"]) == (
        "revisit",
        apply["assignee"],
        "13800138000",
    )
    status, body = await desk.act(revisit, "handle", {"outcome": "reached"})
    assert status == 200, body
    return await desk.ticket(ticket_id)


def _path(ticket: dict) -> list[str]:
    return [e["to_node"] for e in ticket["timeline"] if e["kind"] == "moved"]


async def test_under_200_needs_only_the_supervisor(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("call-150", amount=150)
    await _approve_current(desk, ticket_id, "supervisor")
    ticket = await desk.ticket(ticket_id)
    assert (ticket["state"], ticket["result"]) == ("closed", "approved")
    assert _path(ticket) == ["supervisor", "closed"]


async def test_200_to_1000_adds_the_supervisors_manager_then_apply_and_revisit(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("call-500", amount="500.00")
    [first] = await desk.open_tasks(ticket_id)
    await _approve_current(desk, ticket_id, "supervisor")
    [manager] = await desk.open_tasks(ticket_id)
    assert manager["assignee"] == "mark"  # the supervisor's manager, whichever supervisor it was
    await _approve_current(desk, ticket_id, "manager")
    ticket = await _finish_handling(desk, ticket_id)
    assert (ticket["state"], ticket["result"]) == ("closed", "approved")
    assert _path(ticket) == ["supervisor", "manager", "apply", "revisit", "closed"]
    assert ticket["fields"]["applied_amount"] == 480.5
    handled = next(e for e in ticket["timeline"] if e["kind"] == "handled")
    assert handled["changes"] == {"applied_amount": [None, 480.5]}
    assert first["assignee"] in ("sue", "sam") and first["due_at"] is not None


async def test_over_1000_adds_the_department_head(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("call-5000", amount=5000)
    for node in ("supervisor", "manager", "head"):
        await _approve_current(desk, ticket_id, node)
    ticket = await _finish_handling(desk, ticket_id)
    assert _path(ticket) == ["supervisor", "manager", "head", "apply", "revisit", "closed"]
    cc = next(e for e in ticket["timeline"] if e["kind"] == "notified")
    assert cc["data"] == {"people": ["mark"], "reason": "cc"}
    assert ticket["outcomes"] == {
        "create": "created",
        "supervisor": "approved",
        "manager": "approved",
        "head": "approved",
        "apply": "done",
        "revisit": "reached",
    }


@pytest.mark.parametrize("amount", [150, 5000])
async def test_a_rejection_closes_the_ticket_as_rejected(desk: Desk, amount: int) -> None:
    ticket_id = await desk.new_ticket(f"call-no-{amount}", amount=amount)
    [task] = await desk.open_tasks(ticket_id)
    status, body = await desk.act(task, "reject", {"comment": "not eligible"})
    assert status == 200 and body["ticket"] == {
        "id": ticket_id,
        "state": "closed",
        "current_node": "rejected",
        "result": "rejected",
    }


async def test_supervisor_task_carries_its_sla_and_frozen_warning_plan(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("call-sla", amount=300)
    [task] = await desk.open_tasks(ticket_id)
    assert task["sla_s"] == 3600 and task["business_hours"] is False
    assert [(w["level"], w["after_s"], w["channels"]) for w in task["warning_plan"]] == [
        (1, 0, ["wecom"]),
        (2, 900, ["sms"]),
        (3, 1800, ["voice"]),
    ]
    assert task["warning_plan"][1]["recipients"] == [{"assignee": True, "manager": 1}]
