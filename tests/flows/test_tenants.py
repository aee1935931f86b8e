"""Tenant B can neither read nor act on tenant A's tickets, tasks, flows or people, through any route."""

from __future__ import annotations

import uuid

from tests.flows.conftest import Desk
from tests.flows.helpers import DEMO_FLOW, setup_demo


async def test_another_tenant_sees_and_touches_nothing(desk: Desk) -> None:
    ticket_id = await desk.new_ticket("a-call", amount=500, caller="555")
    [task] = await desk.open_tasks(ticket_id)
    other = Desk(desk.api, f"t{uuid.uuid4().hex[:10]}", desk.sessions)
    await setup_demo(other.sessions, other.tenant)  # same people ids, same flow key: only the tenant differs

    for name in ("viewer", task["assignee"]):
        status, body = await other.get("/api/v1/tickets?caller=555", name=name)
        assert (status, body) == (200, {"tickets": []})
        status, body = await other.get(f"/api/v1/tickets/{ticket_id}", name=name)
        assert status == 404
    status, body = await other.get("/api/v1/inbox", name=task["assignee"], role="agent")
    assert (status, body["tasks"]) == (200, [])
    bodies = {"comment": {"text": "hello"}, "transfer": {"to": "bob"}}
    for action in ("approve", "reject", "claim", "handle", "comment", "cancel", "reopen", "transfer"):
        for role, name in (("admin", "admin"), ("agent", task["assignee"])):
            status, body = await other.act(task, action, bodies.get(action, {}), as_=name, role=role)
            assert (status, body["error"]["code"]) == (404, "not_found"), (action, status, body)
    status, graph = await other.get("/api/v1/flows/fee_reduction/graph")
    assert status == 200 and all(n["open"] == 0 for n in graph["nodes"])

    headers = await other.headers("admin", "admin")
    response = await other.api.client.put(
        "/api/v1/flows/fee_reduction",
        headers=headers,
        data=DEMO_FLOW.read_text().replace("Fee reduction request", "B's own"),
    )
    assert response.status == 201
    response = await other.api.client.put(
        "/api/v1/people",
        headers=headers,
        json={
            "units": {"billing": {"manager": "boss"}},
            "people": {"boss": {"unit": "billing", "roles": ["supervisor", "manager", "head", "agent"]}},
        },
    )
    assert response.status == 200, await response.json()

    status, body = await desk.get("/api/v1/flows/fee_reduction")
    assert body["version"] == 1 and "B's own" not in body["source"]
    status, body = await desk.get("/api/v1/people")
    assert "boss" not in {p["person"] for p in body["people"]} and len(body["people"]) == 7
    assert (await desk.ticket(ticket_id))["state"] == "open"
    [still] = await desk.open_tasks(ticket_id)
    assert still["version"] == task["version"]
