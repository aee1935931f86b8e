"""Hot deploy: new tickets use the newest version, running ones finish on theirs; bad definitions never land."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.deployer import deploy_files
from flows.people_store import replace_directory
from flows.watcher import changed_files, snapshot, watch
from tests.flows.conftest import Desk
from tests.flows.helpers import CONF, DEMO_FLOW, NOW, demo_org

#: The demo flow where only amounts under 100 (not 200) need the supervisor alone.
LOWER_LIMIT = DEMO_FLOW.read_text().replace('when: "amount < 200"', 'when: "amount < 100"')
BROKEN = (
    DEMO_FLOW.read_text()
    .replace("- {from: apply, to: revisit}", "- {from: apply, to: revisit_call}")
    .replace("sla: {duration: 1h, business_hours: false}", "sla: {duration: soon}")
)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


async def _put(desk: Desk, text: str, key: str = "fee_reduction") -> tuple[int, dict]:
    response = await desk.api.client.put(
        f"/api/v1/flows/{key}", data=text.encode(), headers=await desk.headers("designer", "designer")
    )
    return response.status, await response.json()


async def test_a_running_ticket_keeps_its_version_across_a_deploy(desk: Desk) -> None:
    old = await desk.new_ticket("before", amount=150)
    status, body = await _put(desk, LOWER_LIMIT)
    assert (status, body["version"], body["created"]) == (201, 2, True)
    new = await desk.new_ticket("after", amount=150, caller="13800000002")
    old_ticket, new_ticket = await desk.ticket(old), await desk.ticket(new)
    assert old_ticket["flow_version_id"] != new_ticket["flow_version_id"]
    for ticket_id, expected in ((old, "closed"), (new, "manager")):
        [task] = await desk.open_tasks(ticket_id)
        status, body = await desk.act(task, "approve")
        assert body["ticket"]["current_node"] == expected


async def test_deploying_the_same_text_again_creates_no_version(desk: Desk) -> None:
    status, body = await _put(desk, DEMO_FLOW.read_text())
    assert (status, body["version"], body["created"]) == (200, 1, False)


async def test_a_broken_deploy_is_refused_with_file_and_line_and_the_old_version_stays(desk: Desk) -> None:
    status, body = await _put(desk, BROKEN)
    assert status == 422 and body["error"]["code"] == "invalid"
    found = {(e["line"], e["message"].split(":")[0]) for e in body["error"]["errors"]}
    assert (_line(BROKEN, "duration: soon"), "nodes.supervisor.sla.duration") in found
    assert any(
        e["line"] == _line(BROKEN, "to: revisit_call") and "unknown node 'revisit_call'" in e["message"]
        for e in body["error"]["errors"]
    )
    assert all(e["file"] == f"flows/{desk.tenant}/fee_reduction.yaml" for e in body["error"]["errors"])
    status, body = await desk.get("/api/v1/flows/fee_reduction")
    assert (status, body["version"]) == (200, 1)


async def test_validate_reports_without_deploying(desk: Desk) -> None:
    headers = await desk.headers("designer", "designer")
    response = await desk.api.client.post(
        "/api/v1/flows/fee_reduction/validate", data=BROKEN, headers=headers
    )
    assert response.status == 422
    response = await desk.api.client.post(
        "/api/v1/flows/fee_reduction/validate", data=LOWER_LIMIT, headers=headers
    )
    assert response.status == 200 and (await response.json())["valid"] is True
    response = await desk.api.client.post("/api/v1/flows/other/validate", data=LOWER_LIMIT, headers=headers)
    body = await response.json()
    assert response.status == 422 and "does not match 'other'" in body["error"]["message"]


def _unchecked(text: str, tenant: str, needle: str, named: str) -> dict[str, object]:
    return {"file": f"flows/{tenant}/fee_reduction.yaml", "line": _line(text, needle),
            "message": f"unknown {named}: this tenant has no people loaded yet, so they are not checked",
            "hint": "load them (conf/people.yaml or PUT /api/v1/people) before a ticket reaches this step"}


async def test_a_flow_naming_people_is_valid_before_the_tenant_has_people_and_says_whom_it_could_not_check(
    api: Any, tenant: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A new tenant deploys its flows before people.yaml has a section for it: validate and deploy accept the
    flow and warn about every name they could not check; once people are loaded, names are checked."""
    text = DEMO_FLOW.read_text()
    headers = await api.headers(tenant, "designer", name="designer")
    warnings = [_unchecked(text, tenant, "assignees: [{role: supervisor}]", "role 'supervisor'"),
                _unchecked(text, tenant, "recipients: [{role: head}]", "role 'head'"),
                _unchecked(text, tenant, "assignees: [{role: head}]", "role 'head'"),
                _unchecked(text, tenant, "assignees: [{role: agent, unit: billing}]",
                           "role 'agent' in unit 'billing'")]
    response = await api.client.post("/api/v1/flows/fee_reduction/validate", data=text, headers=headers)
    body = await response.json()
    assert (response.status, body.get("valid"), body.get("warnings")) == (200, True, warnings), body
    response = await api.client.put("/api/v1/flows/fee_reduction", data=text.encode(), headers=headers)
    body = await response.json()
    assert (response.status, body.get("version"), body.get("warnings")) == (201, 1, warnings), body

    async with sessions.begin() as session:
        await replace_directory(session, tenant, demo_org(), "test", NOW)
    response = await api.client.post("/api/v1/flows/fee_reduction/validate", data=text, headers=headers)
    assert (response.status, (await response.json())["warnings"]) == (200, [])
    unknown = text.replace("{role: head}]\n    cc:", "{users: [hank]}]\n    cc:")
    response = await api.client.post("/api/v1/flows/fee_reduction/validate", data=unknown, headers=headers)
    body = await response.json()
    assert response.status == 422 and body["error"]["errors"][0]["message"] == "unknown person 'hank'"


async def test_only_designers_and_admins_deploy(desk: Desk) -> None:
    response = await desk.api.client.put(
        "/api/v1/flows/fee_reduction", data=LOWER_LIMIT, headers=await desk.headers("alice", "agent")
    )
    assert response.status == 403


async def test_file_deploy_and_the_watcher_refuse_a_broken_file_and_take_a_good_one(
    desk: Desk, tmp_path: Path
) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(CONF / "flows" / "demo", conf / "flows" / desk.tenant)
    (conf / "people.yaml").write_text(
        (CONF / "people.yaml").read_text().replace("  demo:", f"  {desk.tenant}:")
    )
    first = await deploy_files(desk.sessions, conf)
    assert first.errors == [] and list(first.deployed.values()) == []  # same text as the fixture's deploy
    flow_file = conf / "flows" / desk.tenant / "fee_reduction.yaml"
    before = snapshot(conf)
    flow_file.write_text(BROKEN)
    os.utime(flow_file, ns=(before[flow_file][0] + 10**9,) * 2)
    assert changed_files(before, snapshot(conf)) == [flow_file]
    report = await deploy_files(desk.sessions, conf, flow_file, people=False)
    assert report.deployed == {} and {e.line for e in report.errors} >= {_line(BROKEN, "duration: soon")}
    assert all(e.file == str(flow_file) for e in report.errors)

    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(desk.sessions, conf, stop, interval_s=0.05))
    await asyncio.sleep(0.1)
    flow_file.write_text(LOWER_LIMIT)
    os.utime(flow_file, ns=(before[flow_file][0] + 2 * 10**9,) * 2)
    for _ in range(100):
        status, body = await desk.get("/api/v1/flows/fee_reduction")
        if body["version"] == 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await watcher
    assert body["version"] == 2 and body["source"] == LOWER_LIMIT
