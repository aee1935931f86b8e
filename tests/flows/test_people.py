"""People rules and strategies (round robin, least loaded, online only), the people API and presence."""

from __future__ import annotations

import time

from flows.directory import Directory
from flows.intake import intake
from flows.presence import presence_source
from flows.recipients import due_callbacks, recipients_for
from flows.versions import deploy
from tests.flows.conftest import Desk
from tests.flows.helpers import NOW, catalog, demo_org, intent_event

PICK_FLOW = """
key: pick
nodes:
  create: {type: create}
  work:
    type: handle
    assignees: [{role: agent}]
    strategy: STRATEGY
    online_only: ONLINE
    cc: [{unit: billing, manager: 2}]
  done: {type: close}
transitions:
  - {from: create, to: work}
  - {from: work, to: done}
"""


async def _tickets(
    desk: Desk,
    strategy: str,
    n: int,
    online: bool = False,
    presence=None,
    prefix: str = "",
) -> list[dict]:
    text = PICK_FLOW.replace("STRATEGY", strategy).replace("ONLINE", str(online).lower())
    async with desk.sessions.begin() as session:
        await deploy(
            session,
            desk.tenant,
            "pick",
            text,
            origin="test",
            now=NOW,
            directory=Directory.from_conf(demo_org()),
        )
    events = [
        intent_event(desk.tenant, f"{prefix}{strategy}-{i}", f"{prefix}caller-{i}", template="pick")
        for i in range(n)
    ]
    async with desk.sessions.begin() as session:
        await intake(
            session,
            desk.tenant,
            events,
            catalog=await catalog(desk.sessions, desk.tenant),
            now=NOW,
            presence=presence,
        )
    status, body = await desk.get("/api/v1/tickets?flow=pick")
    mine = sorted(
        (t for t in body["tickets"] if t["call_id"].startswith(prefix + strategy)), key=lambda t: t["id"]
    )
    return [await desk.ticket(t["id"]) for t in mine]


async def _assignees(desk: Desk, strategy: str, n: int, online: bool = False, presence=None) -> list[str]:
    return [t["tasks"][0]["assignee"] for t in await _tickets(desk, strategy, n, online, presence)]


async def test_round_robin_takes_turns_across_batches(desk: Desk) -> None:
    first = await _assignees(desk, "round_robin", 4)
    assert first == ["alice", "bob", "carol", "alice"]


async def test_least_loaded_balances_open_tasks(desk: Desk) -> None:
    picked = await _assignees(desk, "least_loaded", 6)
    assert sorted(picked) == ["alice", "alice", "bob", "bob", "carol", "carol"]
    status, body = await desk.get("/api/v1/people")
    loads = {p["person"]: p["open_tasks"] for p in body["people"]}
    assert (loads["alice"], loads["bob"], loads["carol"]) == (2, 2, 2)


async def test_online_only_prefers_people_online_and_falls_back_when_nobody_is(desk: Desk) -> None:
    async def only_bob() -> frozenset[str]:
        return frozenset({"bob"})

    async def nobody() -> frozenset[str]:
        return frozenset()

    assert await _assignees(desk, "direct", 1, online=True, presence=only_bob) == ["bob"]
    for prefix, presence, note in (("a", nobody, "nobody online"), ("b", None, "presence unknown")):
        [ticket] = await _tickets(desk, "direct", 1, online=True, presence=presence, prefix=prefix)
        assert sorted(t["assignee"] for t in ticket["tasks"]) == ["alice", "bob", "carol"]
        moved = next(e for e in ticket["timeline"] if e["kind"] == "moved")
        assert moved["data"]["note"] == f"{note}; assigned regardless"
        assert next(e for e in ticket["timeline"] if e["kind"] == "notified")["data"] == {
            "people": ["hana"],
            "reason": "cc",
        }


async def test_presence_through_the_api_drives_online_only(desk: Desk, async_redis) -> None:
    headers = await desk.headers("carol")
    response = await desk.api.client.post(
        "/api/v1/presence", json={"online": True, "ttl_s": 60}, headers=headers
    )
    assert response.status == 200
    status, body = await desk.get("/api/v1/people")
    assert {p["person"] for p in body["people"] if p["online"]} == {"carol"}
    source = presence_source(async_redis, desk.tenant, lambda: int(time.time() * 1000))
    assert await _assignees(desk, "direct", 1, online=True, presence=source) == ["carol"]


async def test_cc_and_warning_recipients_follow_the_org_chart(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("cc", amount=300)
    ticket = await desk.ticket(ticket_id)
    [task] = ticket["tasks"]
    async with desk.sessions() as session:
        level2 = await recipients_for(session, desk.tenant, task["id"], 2)
        level3 = await recipients_for(session, desk.tenant, task["id"], 3)
        assert await recipients_for(session, desk.tenant, task["id"], 9) == []
    assert [r["person"] for r in level2] == ["mark"]  # sue's and sam's manager
    assert level3 == [
        {
            "person": "hana",
            "name": "Hana Head",
            "phone": "+15550100001",
            "email": "hana@demo.example",
            "wecom": "hana.head",
        }
    ]


async def test_revisit_tasks_are_listed_as_pbx_callbacks(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("cb", amount=300, caller="13700000000")
    for _ in range(3):
        [task] = await desk.open_tasks(ticket_id)
        await desk.act(task, "approve" if task["node_type"] == "approve" else "handle")
    async with desk.sessions() as session:
        [callback] = await due_callbacks(session, desk.tenant)
    assert callback["number"] == "13700000000" and callback["ticket_id"] == ticket_id


async def test_people_put_validates_and_needs_admin(desk: Desk) -> None:
    bad = {"units": {"a": {"parent": "b"}}, "people": {"x": {"unit": "nowhere"}}}
    response = await desk.api.client.put(
        "/api/v1/people", json=bad, headers=await desk.headers("admin", "admin")
    )
    body = await response.json()
    assert response.status == 422
    assert {e["message"] for e in body["error"]["errors"]} >= {
        "unit 'a': unknown parent unit 'b'",
        "person 'x': unknown unit 'nowhere'",
    }
    response = await desk.api.client.put(
        "/api/v1/people", json=bad, headers=await desk.headers("sue", "agent")
    )
    assert response.status == 403
