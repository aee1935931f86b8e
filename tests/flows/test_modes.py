"""Countersign (all), or-sign (any) and sequence approvals, including two people acting at the same instant."""

from __future__ import annotations

import asyncio

import pytest

from flows.directory import Directory
from flows.versions import deploy
from tests.flows.conftest import Desk
from tests.flows.helpers import NOW, demo_org

SIGN_FLOW = """
key: sign
nodes:
  create: {type: create}
  sign:
    type: approve
    mode: MODE
    assignees: [{users: [sue, sam, mark]}]
  handle:
    type: handle
    assignees: [{users: [alice, bob]}]
  approved: {type: close, result: approved}
  rejected: {type: close, result: rejected}
transitions:
  - {from: create, to: sign}
  - {from: sign, to: rejected, when: "outcome == 'rejected'"}
  - {from: sign, to: handle}
  - {from: handle, to: approved}
"""


async def _sign_ticket(desk: Desk, mode: str, call_id: str) -> int:
    async with desk.sessions.begin() as session:
        await deploy(
            session,
            desk.tenant,
            "sign",
            SIGN_FLOW.replace("MODE", mode),
            origin="test",
            now=NOW,
            directory=Directory.from_conf(demo_org()),
        )
    return await desk.new_ticket(call_id, template="sign")


def _by_person(tasks: list[dict]) -> dict[str, dict]:
    return {t["assignee"]: t for t in tasks}


async def test_countersign_needs_every_assignee(desk: Desk) -> None:
    ticket_id = await _sign_ticket(desk, "all", "c-all")
    tasks = _by_person(await desk.open_tasks(ticket_id))
    assert sorted(tasks) == ["mark", "sam", "sue"]
    for person in ("sue", "sam"):
        status, body = await desk.act(tasks[person], "approve")
        assert status == 200 and body["ticket"]["current_node"] == "sign"
    status, body = await desk.act(tasks["mark"], "approve")
    assert status == 200 and body["ticket"]["current_node"] == "handle"


async def test_countersign_one_reject_ends_it_and_cancels_the_rest(desk: Desk) -> None:
    ticket_id = await _sign_ticket(desk, "all", "c-all-no")
    tasks = _by_person(await desk.open_tasks(ticket_id))
    await desk.act(tasks["sue"], "approve")
    status, body = await desk.act(tasks["sam"], "reject")
    assert body["ticket"]["result"] == "rejected"
    status, body = await desk.act(tasks["mark"], "approve")
    assert status == 409 and "cancelled" in body["error"]["message"]


async def test_countersign_concurrent_approvals_both_count(desk: Desk) -> None:
    ticket_id = await _sign_ticket(desk, "all", "c-all-race")
    tasks = _by_person(await desk.open_tasks(ticket_id))
    await desk.act(tasks["mark"], "approve")
    results = await asyncio.gather(desk.act(tasks["sue"], "approve"), desk.act(tasks["sam"], "approve"))
    assert [status for status, _ in results] == [200, 200]
    assert (await desk.ticket(ticket_id))["current_node"] == "handle"


async def test_or_sign_first_decides_and_the_others_are_cancelled(desk: Desk) -> None:
    ticket_id = await _sign_ticket(desk, "any", "c-any")
    tasks = _by_person(await desk.open_tasks(ticket_id))
    status, body = await desk.act(tasks["sam"], "approve")
    assert status == 200 and body["ticket"]["current_node"] == "handle"
    states = {
        t["assignee"]: t["state"] for t in (await desk.ticket(ticket_id))["tasks"] if t["node"] == "sign"
    }
    assert states == {"sam": "approved", "sue": "cancelled", "mark": "cancelled"}


@pytest.mark.parametrize("second", ["approve", "reject"])
async def test_or_sign_two_deciders_at_the_same_instant_one_wins_one_conflicts(
    desk: Desk, second: str
) -> None:
    ticket_id = await _sign_ticket(desk, "any", f"c-any-race-{second}")
    tasks = _by_person(await desk.open_tasks(ticket_id))
    results = await asyncio.gather(desk.act(tasks["sue"], "approve"), desk.act(tasks["sam"], second))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409], results
    loser = next(body for status, body in results if status == 409)
    assert loser["error"]["code"] == "conflict"
    ticket = await desk.ticket(ticket_id)
    decisions = [e for e in ticket["timeline"] if e["kind"] in ("approved", "rejected")]
    assert len(decisions) == 1


async def test_sequence_goes_one_after_another(desk: Desk) -> None:
    ticket_id = await _sign_ticket(desk, "sequence", "c-seq")
    ticket = await desk.ticket(ticket_id)
    assert [(t["assignee"], t["state"]) for t in ticket["tasks"]] == [
        ("sue", "pending"),
        ("sam", "waiting"),
        ("mark", "waiting"),
    ]
    waiting = ticket["tasks"][1]
    status, body = await desk.act(waiting, "approve")
    assert status == 409 and "waiting" in body["error"]["message"]
    for expected in ("sue", "sam"):
        [task] = await desk.open_tasks(ticket_id)
        assert task["assignee"] == expected and task["activated_at"] is not None
        assert (await desk.act(task, "approve"))[0] == 200
    [last] = await desk.open_tasks(ticket_id)
    status, body = await desk.act(last, "reject")
    assert body["ticket"]["result"] == "rejected"


async def test_sequence_the_next_cannot_jump_the_queue_even_concurrently(desk: Desk) -> None:
    ticket_id = await _sign_ticket(desk, "sequence", "c-seq-race")
    tasks = _by_person((await desk.ticket(ticket_id))["tasks"])
    results = await asyncio.gather(desk.act(tasks["sue"], "approve"), desk.act(tasks["sam"], "approve"))
    # sam's task may only become pending through sue's approval: either sam was still waiting (409)
    # or sue's approval committed first and sam's then legitimately went through.
    assert results[0][0] == 200
    assert results[1][0] in (200, 409)
    states = {t["assignee"]: t["state"] for t in (await desk.ticket(ticket_id))["tasks"]}
    assert states["sue"] == "approved" and states["mark"] in ("pending", "waiting")


async def test_a_task_acted_on_twice_gets_a_conflict(desk: Desk) -> None:
    ticket_id = await _sign_ticket(desk, "all", "c-twice")
    task = _by_person(await desk.open_tasks(ticket_id))["sue"]
    assert (await desk.act(task, "approve"))[0] == 200
    status, body = await desk.act(task, "approve")
    assert status == 409
    assert body["error"]["message"].startswith(f"task {task['id']} is approved by sue at ")


async def test_claim_in_a_shared_handle_takes_it_from_the_others(desk: Desk) -> None:
    ticket_id = await _sign_ticket(desk, "any", "c-claim")
    await desk.act(_by_person(await desk.open_tasks(ticket_id))["sue"], "approve")
    tasks = _by_person(await desk.open_tasks(ticket_id))
    assert sorted(tasks) == ["alice", "bob"]
    status, body = await desk.act(tasks["bob"], "claim")
    assert status == 200 and body["task"]["state"] == "claimed"
    assert (await desk.act(tasks["alice"], "handle"))[0] == 409
    status, body = await desk.act(tasks["bob"], "handle", {"comment": "done"})
    assert body["ticket"]["result"] == "approved"
