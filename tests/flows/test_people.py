"""People rules and strategies (round robin, least loaded, online only), the people API and presence; people's
phones made E.164 in the tenant's region, or refused at their line."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from click.testing import CliRunner

from flows.directory import Directory
from flows.files import read_people
from flows.intake import intake
from flows.presence import presence_source
from flows.recipients import due_callbacks, recipients_for
from flows.versions import deploy
from hotline.cli import cli
from router.check import tenant_regions
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
            "phone": "+12015550101",
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
    extension = {"people": {"y": {"phone": "+86 6001"}}}
    response = await desk.api.client.put(
        "/api/v1/people", json=extension, headers=await desk.headers("admin", "admin")
    )
    assert response.status == 422
    assert [e["message"] for e in (await response.json())["error"]["errors"]] == [
        "people.y.phone: Value error, '+86 6001': too short for a phone number (an internal extension?)"
    ]
    response = await desk.api.client.put(
        "/api/v1/people", json=bad, headers=await desk.headers("sue", "agent")
    )
    assert response.status == 403


def test_people_phones_are_made_e164_in_the_tenants_region_or_fail_hotline_check_at_their_line(
    conf_dir: Path, tmp_path: Path
) -> None:
    """The demo tenant's region (routing.yaml) is CN: a Chinese mobile number written the national way is
    stored as +86..., so escalation SMS and calls reach it; a desk extension is no number they can reach."""
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir, conf)
    people = conf / "people.yaml"
    people.write_text(people.read_text().replace('"+12015550111"', '"139 0000 0011"'))
    orgs, errors = read_people(people, tenant_regions(conf))
    assert errors == [] and orgs["demo"].people["alice"].phone == "+8613900000011"

    text = people.read_text().replace('"+12015550112"', '"6001"')
    people.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if '"6001"' in row)
    result = CliRunner().invoke(cli, ["check", str(conf)])
    assert result.exit_code == 2
    assert (
        f"{people}:{line}: people.bob.phone: Value error, '6001': too short for a phone number "
        "(an internal extension?)"
    ) in result.output
