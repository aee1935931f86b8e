"""Reports over HTTP: interval rows as JSON or CSV, the IVR map, and the IVR menu files of the config page."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from api.stats.intervals import roll_up
from hotline.checks import run_checks
from hotline.models import AdminAudit, Call
from hotline.tokens import Role
from tests.web.conftest import REPO, browser_login
from tests.web.test_stats import T0, entries, recorder_of, script

PERIOD = {"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T11:00:00Z"}


async def seed_intervals(engine, async_redis, tenant: str) -> None:
    await (await recorder_of(engine, async_redis, tenant)).handle(entries(script(tenant)))
    await roll_up(engine, tenant, [int(T0), int(T0) + 900])


async def test_interval_rows_come_as_json_and_as_csv(api, engine, async_redis, tenant) -> None:
    await seed_intervals(engine, async_redis, tenant)
    headers = await api.headers(tenant, Role.VIEWER)
    resp = await api.client.get("/api/v1/reports/intervals", params={**PERIOD, "by": "queue"}, headers=headers)
    body = await resp.json()
    assert resp.status == 200 and body["interval_s"] == 900
    assert [(r["start"], r["name"], r["offered"], r["answered_20s_share"]) for r in body["rows"]] == [
        ("2026-11-28T10:00:00+00:00", "billing", 5, 0.2), ("2026-11-28T10:00:00+00:00", "general", 1, 1.0),
        ("2026-11-28T10:15:00+00:00", "billing", 1, 1.0)]
    as_csv = await api.client.get("/api/v1/reports/intervals", params={**PERIOD, "by": "agent"},
                                  headers={**headers, "Accept": "text/csv"})
    assert as_csv.content_type == "text/csv" and "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await as_csv.text())))
    assert [(r["start"], r["name"], r["answered"], r["avg_wait_s"], r["p90_wait_s"]) for r in rows] == [
        ("2026-11-28T10:00:00+00:00", "alice", "1", "5.0", "5.0"), ("2026-11-28T10:00:00+00:00", "bob", "1", "30.0", "30.0"),
        ("2026-11-28T10:00:00+00:00", "carol", "1", "8.0", "8.0"), ("2026-11-28T10:15:00+00:00", "alice", "1", "15.0", "15.0")]
    by_param = await api.client.get("/api/v1/reports/intervals", params={**PERIOD, "by": "trunk", "format": "csv"},
                                    headers=headers)
    assert (await by_param.text()).splitlines()[1].startswith("2026-11-28T10:00:00+00:00,2026-11-28T10:15:00+00:00,trunk,primary,1,1,0,0,4.0,4.0,1,1.0")


async def test_reports_stay_in_their_tenant_and_refuse_bad_parameters(api, engine, async_redis, tenant) -> None:
    await seed_intervals(engine, async_redis, tenant)
    other = await api.client.get("/api/v1/reports/intervals", params=PERIOD, headers=await api.headers("elsewhere"))
    assert (await other.json())["rows"] == []
    headers = await api.headers(tenant)
    for params, message in [
        ({"by": "colour"}, "by must be one of queue, trunk, agent, extension, skill, not 'colour'"),
        ({"from": "yesterday"}, "from: not an ISO 8601 time: 'yesterday'"),
        ({"from": "2026-11-28T10:00"}, "from: give a time zone, e.g. 2026-11-28T10:00:00Z"),
        ({**PERIOD, "to": PERIOD["from"]}, "to must be later than from"),
        ({"format": "xml"}, "format must be csv or json, not 'xml'"),
    ]:
        resp = await api.client.get("/api/v1/reports/intervals", params=params, headers=headers)
        assert resp.status == 400 and (await resp.json())["error"]["message"] == message


def steps(*nodes: str, abandon: str | None = None, menu: str = "main") -> list[list[object]]:
    rows: list[list[object]] = [[i * 1000, "enter", menu, node, "play"] for i, node in enumerate(nodes)]
    if abandon:
        rows.append([len(nodes) * 1000, "abandon", menu, abandon, ""])
    return rows


async def test_the_ivr_map_counts_callers_and_hang_ups_per_node(api, sessions, tenant) -> None:
    started = datetime.now(UTC) - timedelta(hours=1)
    calls = [("a", steps("welcome", "main", "bill", "billing"), "routed", "billing"),
             ("b", steps("welcome", "main", "amount", abandon="amount"), "abandoned", "amount"),
             ("c", steps("welcome", abandon="welcome"), "abandoned", "welcome"),
             ("d", steps("welcome", "main", "main", "agent"), "routed", "agent")]
    async with sessions.begin() as session:
        for call_id, trajectory, outcome, node in calls:
            session.add(Call(tenant=tenant, call_id=call_id, caller="1", menu="main", started_at=started,
                             ended_at=started, outcome=outcome, outcome_node=node, trajectory=trajectory))
        session.add(Call(tenant="elsewhere", call_id="x", caller="1", menu="main", started_at=started,
                         trajectory=steps("welcome", abandon="welcome")))
    resp = await api.client.get("/api/v1/reports/ivr", params={"menu": "main"}, headers=await api.headers(tenant))
    body = await resp.json()
    assert resp.status == 200 and body["calls"] == 4 and body["start"] == "welcome"
    nodes = {n["id"]: (n["callers"], n["hangups"]) for n in body["nodes"]}
    assert nodes == {"welcome": (4, 1), "main": (3, 0), "bill": (1, 0), "billing": (1, 0), "amount": (1, 1),
                     "reduction": (0, 0), "reduction-queue": (0, 0), "agent": (1, 0)}
    edges = {(e["from"], e["to"], e["label"]): e["calls"] for e in body["edges"] if e["calls"]}
    assert edges == {("welcome", "main", ""): 3, ("main", "bill", "1"): 1, ("main", "amount", "2"): 1,
                     ("main", "agent", "0"): 1, ("main", "agent", "failure"): 1, ("bill", "billing", ""): 1}
    missing = await api.client.get("/api/v1/reports/ivr", params={"menu": "nope"}, headers=await api.headers(tenant))
    assert missing.status == 404


BROKEN_MENU = """\
language: en
start: hello
prompts:
  hi: {en: {sound: hotline/hi, text: Hi}}
nodes:
  hello:
    type: play
    prompts: [hi]
    next: nowhere
"""


async def test_a_menu_is_validated_with_lines_and_deployed_atomically(api, sessions, tenant, web_conf: Path) -> None:
    designer = await api.headers(tenant, Role.DESIGNER, name="dee")
    listed = await api.client.get("/api/v1/ivr/menus", headers=designer)
    assert (await listed.json())["menus"] == [{"name": "main"}, {"name": "selfservice"}]
    source = (await (await api.client.get("/api/v1/ivr/menus/main", headers=designer)).json())["source"]

    refused = await api.client.post("/api/v1/ivr/menus/extra/validate", data=BROKEN_MENU, headers=designer)
    error = (await refused.json())["error"]
    assert refused.status == 422 and error["code"] == "invalid"
    assert [(e["file"], e["line"]) for e in error["errors"]] == [(f"ivr/{tenant}/extra.yaml", 9)]
    assert "nowhere" in error["errors"][0]["message"]
    deploy_refused = await api.client.put("/api/v1/ivr/menus/extra", data=BROKEN_MENU, headers=designer)
    assert deploy_refused.status == 422 and not (web_conf / "ivr" / tenant / "extra.yaml").exists()

    fixed = BROKEN_MENU.replace("next: nowhere", "next: bye") + "  bye:\n    type: hangup\n"
    assert (await api.client.post("/api/v1/ivr/menus/extra/validate", data=fixed, headers=designer)).status == 200
    created = await api.client.put("/api/v1/ivr/menus/extra", data=fixed, headers=designer)
    assert created.status == 201 and (web_conf / "ivr" / tenant / "extra.yaml").read_text() == fixed
    replaced = await api.client.put("/api/v1/ivr/menus/main", data=source, headers=designer)
    assert replaced.status == 200 and (await replaced.json()) == {"name": "main", "created": False}
    async with sessions() as session:
        audit = (await session.execute(select(AdminAudit.action, AdminAudit.target)
                                       .where(AdminAudit.tenant == tenant))).all()
    assert audit == [("ivr.menu.deploy", "extra"), ("ivr.menu.deploy", "main")]


CHAT_LINK_MENU = """\
start: ask
nodes:
  ask:
    type: chat_link
    diversion: keypad
    next: bye
  bye:
    type: hangup
"""


async def test_a_menu_asking_for_a_chat_link_is_checked_against_the_tenant_s_routing(api, tenant) -> None:
    designer = await api.headers(tenant, Role.DESIGNER)
    refused = await api.client.post("/api/v1/ivr/menus/extra/validate", data=CHAT_LINK_MENU, headers=designer)
    assert refused.status == 422
    assert (await refused.json())["error"]["errors"] == [
        {"file": f"ivr/{tenant}/extra.yaml", "line": 5, "hint": "its chat diversions: chat",
         "message": f"node 'ask': 'keypad' is not a chat diversion of tenant '{tenant}' in routing.yaml"}]
    fixed = CHAT_LINK_MENU.replace("diversion: keypad", "diversion: chat")
    assert (await api.client.post("/api/v1/ivr/menus/extra/validate", data=fixed, headers=designer)).status == 200


SHARED_PROMPTS = "prompts:\n  thanks:\n    en: {sound: hotline/thanks, text: Thank you.}\n"
NEEDS_ZH = """\
languages: [en, zh]
start: hello
nodes:
  hello:
    type: play
    prompts: [thanks]
    next: nowhere
"""


async def test_each_error_names_its_file_and_line_as_hotline_check_does(api, tenant, web_conf: Path) -> None:
    """The menu breaks the tenant's shared prompts too (it needs 'zh'): that error is in the other file."""
    (web_conf / "ivr" / tenant / "_prompts.yaml").write_text(SHARED_PROMPTS)
    designer = await api.headers(tenant, Role.DESIGNER)
    refused = await api.client.post("/api/v1/ivr/menus/extra/validate", data=NEEDS_ZH, headers=designer)
    error = (await refused.json())["error"]
    assert refused.status == 422
    assert error["errors"] == [
        {"file": f"ivr/{tenant}/_prompts.yaml", "line": 3, "hint": "",
         "message": "prompt 'thanks' has no 'zh' variant (menu 'extra' needs it)"},
        {"file": f"ivr/{tenant}/extra.yaml", "line": 7, "hint": "",
         "message": "node 'hello': next leads to unknown node 'nowhere'"}]
    (web_conf / "ivr" / tenant / "extra.yaml").write_text(NEEDS_ZH)
    [printed] = [errors for name, errors in run_checks(web_conf) if name == "ivr"]
    assert error["message"] == "; ".join(str(e).removeprefix(f"{web_conf}/") for e in printed)

    broken = "  - {from: create, to: x}"
    flow = (REPO / "conf" / "flows" / "demo" / "fee_reduction.yaml").read_text()
    flow = flow.replace("  - {from: create, to: supervisor}", broken)
    refused = await api.client.post("/api/v1/flows/fee_reduction/validate", data=flow, headers=designer)
    errors = (await refused.json())["error"]["errors"]
    assert refused.status == 422 and {e["file"] for e in errors} == {f"flows/{tenant}/fee_reduction.yaml"}
    assert all(e["line"] for e in errors), errors
    assert [e["line"] for e in errors if e["message"] == "transition 1: unknown node 'x'"] == [
        flow.splitlines().index(broken) + 1]


async def test_menus_are_the_tenants_own_and_only_designers_change_them(api, tenant) -> None:
    assert (await api.client.get("/api/v1/ivr/menus/main", headers=await api.headers("elsewhere"))).status == 404
    viewer = await api.headers(tenant, Role.VIEWER)
    assert (await api.client.put("/api/v1/ivr/menus/main", data="x: 1", headers=viewer)).status == 403
    bad_name = await api.client.put("/api/v1/ivr/menus/_prompts", data="x: 1", headers=await api.headers(tenant))
    assert bad_name.status == 400


async def test_the_reports_page_shows_the_rows_and_links_the_csv(api, engine, async_redis, tenant) -> None:
    await seed_intervals(engine, async_redis, tenant)
    await browser_login(api.client, (await api.headers(tenant, Role.VIEWER))["Authorization"].removeprefix("Bearer "))
    page = await api.client.get("/reports", params={"by": "agent", "from": "2026-11-28T10:00", "to": "2026-11-28T11:00"})
    text = await page.text()
    assert page.status == 200 and text.count('<td class="name">alice</td>') == 2 and '<td class="name">bob</td>' in text
    link = re.search(r'href="(/api/v1/reports/intervals\?[^"]+)"', text).group(1).replace("&amp;", "&")
    as_csv = await api.client.get(link)
    assert as_csv.content_type == "text/csv" and len((await as_csv.text()).splitlines()) == 5


async def test_a_tenant_name_that_is_not_plain_never_becomes_a_path(api) -> None:
    resp = await api.client.get("/api/v1/ivr/menus", headers=await api.headers("../../etc"))
    assert resp.status == 400 and "not a plain name" in (await resp.json())["error"]["message"]
