"""The pages in a real browser (Debian's chromium driven by Playwright) against a real ``hotline serve``.

Strategy: one ``hotline serve`` subprocess per module (starting one takes
seconds), on a copy of the demo conf with one tenant per test, so each test
has its own routing, flows, people, tokens, rows and Redis keys, and reaches
serve only the way production does: HTTP and WebSocket from the browser,
FastAGI from the simulated Asterisk, PBX events on the Redis stream, and the
``hotline`` CLI (tokens, ``route status``). Serve uses a fresh PostgreSQL
database when ``HOTLINE_TEST_POSTGRES_URL`` is set, else a SQLite file.
Screenshots go to tests/artifacts/. A page that logs a script error or a CSP
violation fails its test. If chromium is missing the tests fail (``.ci/run``
installs it); they never skip.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import redis.asyncio as aioredis
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import AlertState, EscalationState
from flows.models import Task
from hotline.db import create_engine, session_factory
from hotline.keys import pbx_events_stream
from hotline.models import Call
from hotline.pbx_events import PbxEvent, PbxEventKind
from hotline.tokens import Role
from router.aio import AsyncRouter
from router.check import load_routing_config
from tests.hotline.test_serve import HOTLINE, env_for, wait_healthy
from tests.sim.asterisk_agi import AsteriskChannel, Caller, call_fastagi
from tests.sql_fixtures import POSTGRES_URL, _pg_exec
from tests.web.conftest import escalation_rows, take_call, tenant_conf
from tests.web.test_reports import NEEDS_ZH, SHARED_PROMPTS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CLI_TIMEOUT_S = 60


# -- one real `hotline serve` for the module ---------------------------------------------------------------


@dataclass
class Serve:
    """The running ``hotline serve`` and how to reach it; ``tenants`` maps each test's node id to its tenant."""

    base: str
    agi_port: int
    env: dict[str, str]
    cwd: Path
    conf: Path
    db_url: str
    tenants: dict[str, str]
    bystander: str  # a tenant no test acts on: what a test does must not show there


@dataclass
class Site:
    """The module's serve as one test sees it: through a tenant no other test uses."""

    serve: Serve
    tenant: str

    @property
    def base(self) -> str:
        return self.serve.base

    async def hotline(self, *args: str) -> str:
        """Run a ``hotline`` CLI command beside serve (same settings) and return its stdout; it must succeed."""
        proc = await asyncio.create_subprocess_exec(*HOTLINE, *args, env=self.serve.env, cwd=self.serve.cwd,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
        assert proc.returncode == 0, f"hotline {' '.join(args)} exited {proc.returncode}: {err.decode()}"
        return out.decode()

    async def tokens(self, *people: tuple[Role, str]) -> list[str]:
        """One token per (role, person), made with ``hotline tokens create`` as an operator does (concurrently)."""
        outputs = await asyncio.gather(*(self.hotline("tokens", "create", "--tenant", self.tenant, "--role", role,
                                                      "--name", name) for role, name in people))
        return [out.strip().splitlines()[-1] for out in outputs]

    async def get(self, path: str, token: str) -> Any:
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http, http.get(self.base + path, headers=auth) as resp:
            assert resp.status == 200, f"GET {path}: {resp.status} {await resp.text()}"
            return await resp.json()


def _fresh_database(request: pytest.FixtureRequest, root: Path) -> tuple[str, Callable[[], None]]:
    """A new PostgreSQL database (a clone of the migrated template) when the run has one, else a SQLite file;
    and how to drop it."""
    if not POSTGRES_URL:
        return f"sqlite+aiosqlite:///{root / 'data' / 'hotline.sqlite3'}", lambda: None
    template, name = request.getfixturevalue("pg_template"), f"hotline_web_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(POSTGRES_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    return url, lambda: asyncio.run(_pg_exec(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def hotline_serve(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  redis_url: str) -> Iterator[Serve]:
    """``hotline serve`` on the demo conf copied once per test of this module, the test Redis and a fresh database."""
    tenants = {item.nodeid: f"w{uuid.uuid4().hex[:10]}" for item in request.session.items
               if item.module is request.module}
    bystander = f"w{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("serve")
    (root / "data").mkdir()
    conf = tenant_conf(root, *tenants.values(), bystander)
    db_url, drop_database = _fresh_database(request, root)
    env = env_for(root / "data", HOTLINE_CONF_DIR=str(conf), HOTLINE_REDIS_URL=redis_url, HOTLINE_DATABASE_URL=db_url,
                  HOTLINE_NODE_NAME="web-test", COLUMNS="200")
    log = root / "serve.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([*HOTLINE, "serve"], env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=err)
    try:
        try:
            wait_healthy(proc, int(env["HOTLINE_HTTP_PORT"]))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_tail(log)}") from None
        yield Serve(f"http://127.0.0.1:{env['HOTLINE_HTTP_PORT']}", int(env["HOTLINE_AGI_PORT"]), env, root, conf,
                    db_url, tenants, bystander)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()  # the returncode check below reports it
            proc.wait()
        client = redis.Redis.from_url(redis_url)  # serve reads these tenants' streams until it stops
        for tenant in (*tenants.values(), bystander):
            stale = list(client.scan_iter(match=f"hotline:{{{tenant}}}:*"))
            if stale:
                client.delete(*stale)
        client.close()
        drop_database()
    assert proc.returncode == 0, _tail(log)
    assert "worker crashed" not in log.read_text(), _tail(log)


@pytest.fixture
def site(hotline_serve: Serve, request: pytest.FixtureRequest) -> Site:
    return Site(hotline_serve, hotline_serve.tenants[request.node.nodeid])


# -- the browser --------------------------------------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def new_tab(browser: Browser) -> AsyncIterator[Callable[[], Awaitable[Page]]]:
    """Opens a page in a context of its own (its own cookies); script errors and CSP violations fail the test."""
    problems: list[str] = []

    async def open_tab() -> Page:
        context = await browser.new_context(viewport={"width": 1280, "height": 860})
        tab = await context.new_page()
        tab.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
        tab.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
        return tab

    yield open_tab
    assert not [p for p in problems if "Failed to load resource" not in p], problems


@pytest.fixture
async def page(new_tab: Callable[[], Awaitable[Page]]) -> Page:
    return await new_tab()


async def shot(tab: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def log_in(tab: Page, base: str, token: str, path: str = "/") -> None:
    await tab.goto(base + path)
    await expect(tab.locator("#token")).to_be_visible()
    await tab.fill("#token", token)
    await tab.click("section.login button[type=submit]")
    await expect(tab.locator("header .who")).to_be_visible()
    await tab.wait_for_load_state("load")  # the page's deferred scripts have bound their buttons


async def queue_join(redis_url: str, tenant: str, call_id: str) -> None:
    """A caller joins the billing queue, as the PBX edge reports it on the tenant's event stream."""
    client = aioredis.Redis.from_url(redis_url)
    join = PbxEvent(tenant=tenant, pbx="ast-1", kind=PbxEventKind.QUEUE_JOIN, call_id=call_id, ts=time.time(),
                    queue="billing")
    await client.xadd(pbx_events_stream(tenant), join.to_fields())
    await client.aclose()


# -- the scenarios -------------------------------------------------------------------------------------------


@asynccontextmanager
async def database(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on serve's database, opened beside serve as another process would."""
    engine = create_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def seed_calls(db_url: str, tenant: str) -> None:
    """Four finished calls for the IVR map: two abandoned (at amount, at welcome), two routed."""
    started = datetime.now(UTC) - timedelta(minutes=30)
    async with database(db_url) as sessions, sessions.begin() as session:
        for i, path in enumerate((["welcome", "main", "bill", "billing"], ["welcome", "main", "amount"],
                                  ["welcome", "main", "agent"], ["welcome"])):
            steps = [[n * 900, "enter", "main", node, ""] for n, node in enumerate(path)]
            abandoned = path[-1] in ("amount", "welcome")
            if abandoned:
                steps.append([len(path) * 900, "abandon", "main", path[-1], ""])
            session.add(Call(tenant=tenant, call_id=f"seed-{i}", caller="555", menu="main", started_at=started,
                             outcome="abandoned" if abandoned else "routed", outcome_node=path[-1],
                             trajectory=steps))


async def test_the_routing_board_follows_a_call_and_the_ivr_map_counts_calls(page: Page, site: Site,
                                                                              redis_url: str) -> None:
    [token], _ = await asyncio.gather(site.tokens((Role.ADMIN, "ada")), seed_calls(site.serve.db_url, site.tenant))
    router = AsyncRouter.from_url(redis_url, load_routing_config(site.serve.conf), node="edge-1")
    try:
        await page.goto(site.base + "/routing")
        assert "/login" in page.url
        await shot(page, "login")
        await log_in(page, site.base, token, path=page.url.removeprefix(site.base))
        assert page.url.endswith("/routing")
        primary = page.locator("#targets tr[data-target=primary]")
        await expect(page.locator("#ws-state")).to_have_text("live")
        await expect(primary.locator(".in-use")).to_have_text("0")

        started = time.monotonic()
        decision = await router.decide(site.tenant, "billing", "call-1", pbx="ast-1")
        assert decision.name == "primary"
        await expect(primary.locator(".in-use")).to_have_text("1", timeout=2000)
        assert time.monotonic() - started < 1.5
        await expect(page.locator("#diversion")).to_contain_text("Diversion level 0")
        await shot(page, "routing-board-call-in-progress")
        await router.release(site.tenant, "call-1")
        await expect(primary.locator(".in-use")).to_have_text("0", timeout=2000)
        await queue_join(redis_url, site.tenant, "c1")  # serve's stats part turns PBX events into live figures
        await expect(page.locator("#figures tr[data-figure='queue|billing'] .waiting")).to_have_text("1")

        await page.goto(site.base + "/ivr")
        await expect(page.locator("#ivr-graph svg g.node")).to_have_count(8)
        await expect(page.locator("#ivr-nodes tr[data-node=welcome] td").nth(2)).to_have_text("4")
        await expect(page.locator("#ivr-nodes tr[data-node=amount] td").nth(3)).to_have_text("1")
        await shot(page, "ivr-map")
    finally:
        await router.client.aclose()


PRIMARY_ROW = re.compile(r"^\s*primary\s+trunk\s+(?P<capacity>\S+)\s+\d+\s+(?P<state>\w+)\s+live\s", re.MULTILINE)


async def test_an_admin_changes_a_threshold_on_the_board_and_sees_live_figures(
        new_tab: Callable[[], Awaitable[Page]], site: Site, redis_url: str) -> None:
    admin, watcher = await site.tokens((Role.ADMIN, "ada"), (Role.VIEWER, "vic"))
    page, other = await new_tab(), await new_tab()
    await log_in(page, site.base, admin, "/routing")
    await log_in(other, site.base, watcher, "/routing")
    row, seen = page.locator("#targets tr[data-target=primary]"), other.locator("#targets tr[data-target=primary]")
    for board, target in ((page, row), (other, seen)):
        await expect(board.locator("#ws-state")).to_have_text("live")
        await expect(target.locator(".capacity")).to_have_text("100")
    await expect(seen.locator("form")).to_have_count(0)  # a viewer watches; only admins and designers edit

    await row.locator("input[name=limit]").fill("5")
    await row.locator("select[name=state]").select_option("drain")
    clicked = time.monotonic()
    await row.locator("button[type=submit]").click()
    await expect(seen.locator(".capacity")).to_have_text("5", timeout=1000)  # pushed over the other's WebSocket
    await expect(seen.locator(".state")).to_have_text("drain (live)", timeout=1000)
    assert time.monotonic() - clicked < 1.0, "the second board must show the change within a second"
    await expect(page.locator("#flash")).to_contain_text("primary: saved")
    await expect(row.locator(".capacity")).to_have_text("5", timeout=1500)
    await expect(row.locator(".state")).to_have_text("drain (live)")

    status = asyncio.create_task(site.hotline("route", "status", "--tenant", site.tenant))  # what an operator sees
    router = AsyncRouter.from_url(redis_url, load_routing_config(site.serve.conf), node="check")
    try:
        live = {r.name: r for r in await router.status(site.tenant)}
        untouched = {r.name: r for r in await router.status(site.serve.bystander)}
    finally:
        await router.client.aclose()
    assert (live["primary"].capacity, str(live["primary"].state)) == (5, "drain")
    assert (untouched["primary"].capacity, str(untouched["primary"].state)) == (100, "up"), "another tenant's trunk"

    await queue_join(redis_url, site.tenant, "c1")
    for board in (page, other):
        await expect(board.locator("#figures tr[data-figure='queue|billing'] .waiting")).to_have_text("1", timeout=1500)
    await shot(page, "routing-board-threshold-changed")
    await shot(other, "routing-board-threshold-seen-by-a-viewer")
    found = PRIMARY_ROW.search(await status)
    assert found and (found["capacity"], found["state"]) == ("5", "drain"), status.result()


async def wait_for(fetch: Callable[[], Awaitable[Any]], ready: Callable[[Any], bool], what: str,
                   timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not ready(value := await fetch()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s: {value}"
        await asyncio.sleep(0.2)
    return value


async def test_an_approver_opens_the_ticket_from_the_inbox_and_approves_it(
        page: Page, new_tab: Callable[[], Awaitable[Page]], site: Site) -> None:
    """The ticket comes from a real call: fee reduction, 500, through serve's FastAGI port. Approving keeps the
    page (its message stays) and shows the ticket as it now is; a second tab opened before the approval is
    refused with the server's reason."""
    caller = f"139{uuid.uuid4().int % 10**8:08d}"
    channel = AsteriskChannel(f"{site.tenant}/ivr/main", Caller(keys=["2", "500#"]), callerid=caller,
                              uniqueid=f"{time.time():.0f}.{caller[-4:]}")
    [ops], result = await asyncio.gather(site.tokens((Role.ADMIN, "ops")), call_fastagi(site.serve.agi_port, channel))
    assert result.variables["HOTLINE_INTENT"] == "fee_reduction"
    listed = await wait_for(lambda: site.get(f"/api/v1/tickets?caller={caller}", ops), lambda b: b["tickets"],
                            "a ticket for the call")
    await wait_for(lambda: site.get(f"/api/v1/calls?caller={caller}", ops), lambda b: b["calls"],
                   "the call in the call log")
    [opened] = listed["tickets"]
    assert opened["fields"]["amount"] == 500
    ticket = await site.get(f"/api/v1/tickets/{opened['id']}", ops)
    [task] = [t for t in ticket["tasks"] if t["state"] == "pending"]
    assert task["node"] == "supervisor"

    [approver] = await site.tokens((Role.AGENT, task["assignee"]))
    await log_in(page, site.base, approver)
    assert page.url.endswith("/inbox")
    await expect(page.locator("#inbox .countdown")).to_contain_text("left")
    await page.click(f"#inbox a[href='/tickets/{ticket['id']}']")

    await expect(page.locator("h1")).to_contain_text(f"Ticket #{ticket['id']}")
    await expect(page.locator("table.fields")).to_contain_text("500")
    timeline = page.locator("ol.timeline")
    await expect(timeline.locator("li.from-call").first).to_contain_text(f"ivr enter caller {caller} main/welcome")
    await expect(timeline.locator("li.from-call", has_text="ivr keys")).to_have_text(  # the IVR keeps no "#"
        [re.compile(r"main/main: 2$"), re.compile(r"main/amount: 500$")])
    await expect(timeline.locator("li.from-call").last).to_contain_text("call routed")
    await expect(page.locator(f"#tasks tr[data-task='{task['id']}'] .countdown")).to_contain_text("left")
    await shot(page, "ticket-before-approval")
    stale = await new_tab()  # the approver had the ticket open in another tab too
    await log_in(stale, site.base, approver, f"/tickets/{ticket['id']}")
    await page.evaluate("() => { window.notReloaded = true; }")
    await page.click(f"#tasks button[data-task='{task['id']}'][data-action=approve]")
    row = page.locator(f"#tasks tr[data-task='{task['id']}']")
    await expect(row).to_contain_text("approved")
    await expect(row.locator("button, form")).to_have_count(0)
    await expect(page.locator("h1 + .summary")).to_contain_text("at manager")
    await expect(page.locator("#tasks tr", has_text="manager").locator(".countdown")).to_contain_text("left")
    await expect(timeline.locator("li.from-ticket", has_text="approved").last.locator("time")).to_contain_text(" UTC")
    await expect(page.locator("#flash")).to_have_text(
        f"Task {task['id']}: approve done, the task is approved; ticket #{ticket['id']} is open at manager.")
    assert await page.evaluate("() => window.notReloaded") is True, "the page reloaded and lost its message"
    await shot(page, "ticket-approved")
    after = await site.get(f"/api/v1/tickets/{ticket['id']}", ops)
    assert {t["node"]: t["state"] for t in after["tasks"]} == {"supervisor": "approved", "manager": "pending"}

    stale_approve = stale.locator(f"#tasks button[data-task='{task['id']}'][data-action=approve]")
    await stale_approve.click()
    await expect(stale.locator("#flash")).to_have_text(
        re.compile(rf"^approve refused: task {task['id']} is approved by {task['assignee']} at "))
    await expect(stale_approve).to_be_enabled()
    await shot(stale, "ticket-approve-refused")

    await page.goto(site.base + "/flows")
    manager = page.locator("#flow-graph g.node[data-node=manager]")
    await expect(manager).to_contain_text("1 open")
    await expect(page.locator("#flow-nodes tr[data-node=manager] .open")).to_have_text("1")
    await shot(page, "flow-map")


#: The demo flow's supervisor task is due an hour after the call; L1 (WeCom to the assignee) fires at the
#: deadline, L2 15 and L3 30 minutes later (conf/flows/demo/fee_reduction.yaml).
SUPERVISOR_SLA = timedelta(hours=1)


async def overdue_task(db_url: str, tenant: str) -> Task:
    """A supervisor task whose deadline passed a minute ago: serve's SLA clock fires L1 at once (its WeCom goes
    to the log, counted delivered: no provider is set), and L2 and L3 are due in 14 and 29 minutes."""
    async with database(db_url) as sessions:
        await take_call(sessions, tenant, datetime.now(UTC) - SUPERVISOR_SLA - timedelta(minutes=1))
        async with sessions() as session:
            return (await session.execute(select(Task).where(Task.tenant == tenant))).scalar_one()


async def test_the_on_call_supervisor_acks_an_overdue_task_and_no_further_level_fires(
        new_tab: Callable[[], Awaitable[Page]], site: Site) -> None:
    task = await overdue_task(site.serve.db_url, site.tenant)
    on_call, ops = await site.tokens((Role.AGENT, task.assignee), (Role.ADMIN, "ops"))
    listed = await wait_for(lambda: site.get(f"/api/v1/alerts?task={task.id}", ops),
                            lambda b: [a["state"] for a in b["alerts"]] == ["delivered"], "L1 sent by serve")
    [alert] = listed["alerts"]
    assert (alert["level"], alert["recipient"]) == (1, task.assignee)
    async with database(site.serve.db_url) as sessions:
        before, levels, _ = await escalation_rows(sessions, site.tenant, task.id)
    assert (before.state, levels) == (EscalationState.ACTIVE, [2, 3]), "L2 and L3 are still to fire"

    page, stale = await new_tab(), await new_tab()  # the on-call supervisor, and ops watching the same page
    await log_in(page, site.base, on_call, "/alerts")
    await log_in(stale, site.base, ops, "/alerts")
    row, stale_row = (tab.locator(f"#alerts tr[data-alert='{alert['id']}']") for tab in (page, stale))
    await expect(row.locator(".pill")).to_have_text("delivered")
    await shot(page, "alerts-before-ack")
    await row.locator("button.ack").click()
    await expect(page.locator("#flash")).to_have_text(
        f"Alert {alert['id']} acknowledged: no further alerts will be sent for task {task.id}.")
    await expect(row.locator("td.state")).to_have_text("acked")
    await expect(row.locator("button.ack")).to_have_count(0)
    await shot(page, "alerts-acked")
    async with database(site.serve.db_url) as sessions:
        after, levels, alerts = await escalation_rows(sessions, site.tenant, task.id)
    assert (after.state, after.acked_by, after.ack_via) == (EscalationState.ACKED, task.assignee, "api")
    assert levels == [], "no deadline row is left for the SLA clock to fire"
    assert after.generation == before.generation + 1, "a deadline the clock already holds fires nothing"
    assert [(a.level, a.state) for a in alerts] == [(1, AlertState.ACKED)]

    await stale_row.locator("button.ack").click()  # ops clicks on the page opened before the ack
    await expect(stale.locator("#flash")).to_have_text(
        f"Alert {alert['id']} was already settled (acknowledged or stopped before you clicked); nothing changed.")
    await expect(stale_row.locator("td.state")).to_have_text("acked")
    await expect(stale_row.locator("button.ack")).to_have_count(0)
    await shot(stale, "alerts-ack-already-settled")
    await page.reload()
    await expect(row.locator(".pill")).to_have_text("acked")
    await expect(row.locator("button.ack")).to_have_count(0)


BROKEN_LINE = "  - {from: create, to: supervisor}"
NODES_HINT = "nodes: create, supervisor, manager, head, apply, revisit, closed, rejected"


async def test_a_broken_flow_is_refused_and_its_line_is_shown(page: Page, site: Site) -> None:
    [token] = await site.tokens((Role.DESIGNER, "dee"))
    deployed = await site.get("/api/v1/flows/fee_reduction", token)
    shipped = site.serve.conf / "flows" / site.tenant / "fee_reduction.yaml"
    assert (deployed["version"], deployed["origin"]) == (1, f"file:{shipped}"), "serve deploys conf/flows at start"
    await log_in(page, site.base, token, "/config")
    await page.select_option("select[name=kind]", "flow")
    await page.fill("input[name=name]", "fee_reduction")
    await page.click("[data-do=load]")
    await expect(page.locator("#flash")).to_contain_text("Loaded the deployed version")
    source = await page.input_value("textarea[name=source]")
    line = source.splitlines().index(BROKEN_LINE) + 1
    await page.fill("textarea[name=source]", source.replace(BROKEN_LINE, "  - {from: create, to: supervisr}"))
    async with page.expect_response(lambda r: r.request.method == "PUT") as refused:
        await page.click("[data-do=deploy]")
    response = await refused.value
    assert response.status == 422
    message = "transition 1: unknown node 'supervisr'"
    first = (await response.json())["error"]["errors"][0]
    assert first == {"file": f"flows/{site.tenant}/fee_reduction.yaml", "line": line, "message": message,
                     "hint": NODES_HINT}
    await expect(page.locator("#flash")).to_contain_text("nothing was deployed")
    problem = page.locator(f"#errors li[data-line='{line}']").first
    await expect(problem).to_have_text(f"flows/{site.tenant}/fee_reduction.yaml:{line}: {message} (hint: {NODES_HINT})")
    marked = page.locator(".gutter span").nth(line - 1)
    await expect(marked).to_have_text(str(line))
    await expect(marked).to_have_class("bad")
    await shot(page, "config-broken-flow")
    await problem.locator("a").click()
    selected = await page.evaluate("() => { const t = document.querySelector('textarea'); "
                                   "return t.value.slice(t.selectionStart, t.selectionEnd); }")
    assert selected == "  - {from: create, to: supervisr}"
    after = await site.get("/api/v1/flows/fee_reduction", token)
    assert (after["version"], after["digest"]) == (1, deployed["digest"]), "the broken flow must not be deployed"


async def test_a_menu_error_in_another_file_names_that_file_and_is_not_marked_in_the_editor(page: Page,
                                                                                           site: Site) -> None:
    """The new menu needs a 'zh' variant of a shared prompt: that error is on a line of _prompts.yaml, not here."""
    (site.serve.conf / "ivr" / site.tenant / "_prompts.yaml").write_text(SHARED_PROMPTS)
    [token] = await site.tokens((Role.DESIGNER, "dee"))
    await log_in(page, site.base, token, "/config")
    await page.fill("input[name=name]", "extra")
    await page.fill("textarea[name=source]", NEEDS_ZH)
    await page.click("[data-do=validate]")
    await expect(page.locator("#flash")).to_contain_text("2 problem(s) found")
    folder = f"ivr/{site.tenant}"
    await expect(page.locator("#errors li")).to_have_text([
        f"{folder}/_prompts.yaml:3: prompt 'thanks' has no 'zh' variant (menu 'extra' needs it)",
        f"{folder}/extra.yaml:7: node 'hello': next leads to unknown node 'nowhere'"])
    await expect(page.locator("#errors li a")).to_have_text([f"{folder}/extra.yaml:7"])
    await expect(page.locator(".gutter span.bad")).to_have_text(["7"])
    await shot(page, "config-error-in-another-file")
