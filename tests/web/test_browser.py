"""The pages in a real browser (Debian's chromium driven by Playwright): log in, watch, change, approve, deploy.

One test runs against a real ``hotline serve`` subprocess; the others use the
in-process API server (same app, same middlewares) so they can set up tickets
and routing directly. Screenshots go to tests/artifacts/. A page that logs a
script error or a CSP violation fails its test. If chromium is missing the
tests fail (``.ci/run`` installs it); they never skip.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.stats.consumer import StatsRecorder
from api.stats.offers import TrunkMatcher
from hotline.db import create_engine, session_factory, upgrade
from hotline.keys import pbx_events_stream
from hotline.models import Call
from hotline.pbx_events import PbxEvent, PbxEventKind
from hotline.streams import Entry
from hotline.tokens import Role, create_token
from router.aio import AsyncRouter
from router.check import load_routing_config
from tests.flows.helpers import setup_demo
from tests.hotline.test_serve import env_for, wait_healthy
from tests.web.conftest import open_ticket, tenant_conf

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
HOTLINE = [sys.executable, "-m", "hotline"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about pages; the SQL behind them is tested on every backend elsewhere."""
    return f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A fresh chromium page; script errors and CSP violations on it fail the test."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)")
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 860})
        tab = await context.new_page()
        tab.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
        tab.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
        yield tab
        await browser.close()
    assert not [p for p in problems if "Failed to load resource" not in p], problems


async def shot(tab: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def log_in(tab: Page, base: str, token: str, path: str = "/") -> None:
    await tab.goto(base + path)
    await expect(tab.locator("#token")).to_be_visible()
    await tab.fill("#token", token)
    await tab.click("section.login button[type=submit]")
    await expect(tab.locator("header .who")).to_be_visible()


async def new_token(sessions: async_sessionmaker[AsyncSession], tenant: str, role: Role, name: str) -> str:
    async with sessions.begin() as session:
        token, _ = await create_token(session, tenant, role, name)
    return token


# -- a real `hotline serve` -----------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, tenant: str, redis_url: str) -> Iterator[dict[str, Any]]:
    """``hotline serve`` on the tenant's demo conf, the test Redis and a SQLite file made (and seeded) first."""
    conf, data = tenant_conf(tmp_path, tenant), tmp_path / "data"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'hotline.sqlite3'}"

    async def seed() -> str:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            sessions = session_factory(engine)
            started = datetime.now(UTC) - timedelta(minutes=30)
            async with sessions.begin() as session:
                for i, path in enumerate((["welcome", "main", "bill", "billing"], ["welcome", "main", "amount"],
                                          ["welcome", "main", "agent"], ["welcome"])):
                    steps = [[n * 900, "enter", "main", node, ""] for n, node in enumerate(path)]
                    abandoned = path[-1] in ("amount", "welcome")
                    if abandoned:
                        steps.append([len(path) * 900, "abandon", "main", path[-1], ""])
                    session.add(Call(tenant=tenant, call_id=f"seed-{i}", caller="555", menu="main", started_at=started,
                                     outcome="abandoned" if abandoned else "routed", outcome_node=path[-1],
                                     trajectory=steps))
            return await new_token(sessions, tenant, Role.ADMIN, "ada")
        finally:
            await engine.dispose()

    token = asyncio.run(seed())
    env = env_for(data, HOTLINE_CONF_DIR=str(conf), HOTLINE_REDIS_URL=redis_url, HOTLINE_NODE_NAME="web-test")
    proc = subprocess.Popen([*HOTLINE, "serve"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_healthy(proc, int(env["HOTLINE_HTTP_PORT"]))
        yield {"base": f"http://127.0.0.1:{env['HOTLINE_HTTP_PORT']}", "token": token, "conf": conf}
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()[-2000:]


async def test_on_a_real_serve_the_routing_board_follows_a_call(page: Page, served: dict[str, Any], tenant: str,
                                                                redis_url: str) -> None:
    router = AsyncRouter.from_url(redis_url, load_routing_config(served["conf"]), node="edge-1")
    await router.load()
    try:
        await page.goto(served["base"] + "/routing")
        assert "/login" in page.url
        await shot(page, "login")
        await log_in(page, served["base"], served["token"], path=page.url.removeprefix(served["base"]))
        assert page.url.endswith("/routing")
        primary = page.locator("#targets tr[data-target=primary]")
        await expect(page.locator("#ws-state")).to_have_text("live")
        await expect(primary.locator(".in-use")).to_have_text("0")

        started = time.monotonic()
        decision = await router.decide(tenant, "billing", "call-1", pbx="ast-1")
        assert decision.name == "primary"
        await expect(primary.locator(".in-use")).to_have_text("1", timeout=2000)
        assert time.monotonic() - started < 1.5
        await expect(page.locator("#diversion")).to_contain_text("Diversion level 0")
        await shot(page, "routing-board-call-in-progress")
        await router.release(tenant, "call-1")
        await expect(primary.locator(".in-use")).to_have_text("0", timeout=2000)
        client = aioredis.Redis.from_url(redis_url)  # serve's stats part turns PBX events into live figures
        join = PbxEvent(tenant=tenant, pbx="ast-1", kind=PbxEventKind.QUEUE_JOIN, call_id="c1", ts=time.time(),
                        queue="billing")
        await client.xadd(pbx_events_stream(tenant), join.to_fields())
        await client.aclose()
        await expect(page.locator("#figures tr[data-figure='queue|billing'] .waiting")).to_have_text("1")

        await page.goto(served["base"] + "/ivr")
        await expect(page.locator("#ivr-graph svg g.node")).to_have_count(8)
        await expect(page.locator("#ivr-nodes tr[data-node=welcome] td").nth(2)).to_have_text("4")
        await expect(page.locator("#ivr-nodes tr[data-node=amount] td").nth(3)).to_have_text("1")
        await shot(page, "ivr-map")
    finally:
        await router.client.aclose()


# -- the in-process API server ----------------------------------------------------------------------------


def base_of(api: Any) -> str:
    return str(api.client.make_url("")).rstrip("/")


async def test_an_admin_changes_a_threshold_on_the_board_and_sees_live_figures(
        page: Page, api: Any, tenant: str, redis_url: str, web_conf: Path, engine: Any, async_redis: Any) -> None:
    token = await new_token(api.sessions, tenant, Role.ADMIN, "ada")
    await log_in(page, base_of(api), token, "/routing")
    row = page.locator("#targets tr[data-target=primary]")
    await expect(row.locator(".capacity")).to_have_text("100")
    await row.locator("input[name=limit]").fill("5")
    await row.locator("select[name=state]").select_option("drain")
    await row.locator("button[type=submit]").click()
    await expect(page.locator("#flash")).to_contain_text("primary: saved")
    await expect(row.locator(".capacity")).to_have_text("5", timeout=1500)
    await expect(row.locator(".state")).to_have_text("drain (live)")
    join = PbxEvent(tenant=tenant, pbx="ast-1", kind=PbxEventKind.QUEUE_JOIN, call_id="c1", ts=time.time(),
                    queue="billing")
    await StatsRecorder(engine, async_redis, tenant, TrunkMatcher({})).handle([Entry("1-0", join.to_fields())])
    await expect(page.locator("#figures tr[data-figure='queue|billing'] .waiting")).to_have_text("1", timeout=1500)
    await shot(page, "routing-board-threshold-changed")
    router = AsyncRouter.from_url(redis_url, load_routing_config(web_conf), node="check")
    try:
        status = {r.name: r for r in await router.status(tenant)}
    finally:
        await router.client.aclose()
    assert (status["primary"].capacity, str(status["primary"].state)) == (5, "drain")


async def test_an_approver_opens_the_ticket_from_the_inbox_and_approves_it(page: Page, api: Any, tenant: str) -> None:
    ticket = await open_ticket(api.sessions, tenant)
    [task] = [t for t in ticket["tasks"] if t["state"] == "pending"]
    token = await new_token(api.sessions, tenant, Role.AGENT, task["assignee"])
    await log_in(page, base_of(api), token)
    assert page.url.endswith("/inbox")
    await expect(page.locator("#inbox .countdown")).to_contain_text("left")
    await page.click(f"#inbox a[href='/tickets/{ticket['id']}']")

    await expect(page.locator("h1")).to_contain_text(f"Ticket #{ticket['id']}")
    await expect(page.locator("table.fields")).to_contain_text("500")
    timeline = page.locator("ol.timeline")
    await expect(timeline.locator("li.from-call").first).to_contain_text("ivr enter")
    await expect(timeline).to_contain_text("main/amount: 500#")
    await expect(page.locator(f"#tasks tr[data-task='{task['id']}'] .countdown")).to_contain_text("left")
    await shot(page, "ticket-before-approval")
    await page.click(f"#tasks button[data-task='{task['id']}'][data-action=approve]")
    await expect(page.locator(f"#tasks tr[data-task='{task['id']}']")).to_contain_text("approved")
    await expect(page.locator("h1 + .summary")).to_contain_text("at manager")
    await expect(timeline).to_contain_text("approved")
    await shot(page, "ticket-approved")

    await page.goto(base_of(api) + "/flows")
    manager = page.locator("#flow-graph g.node[data-node=manager]")
    await expect(manager).to_contain_text("1 open")
    await expect(page.locator("#flow-nodes tr[data-node=manager] .open")).to_have_text("1")
    await shot(page, "flow-map")


BROKEN_LINE = "  - {from: create, to: supervisor}"


async def test_a_broken_flow_is_refused_and_its_line_is_shown(page: Page, api: Any, tenant: str) -> None:
    await setup_demo(api.sessions, tenant)
    token = await new_token(api.sessions, tenant, Role.DESIGNER, "dee")
    await log_in(page, base_of(api), token, "/config")
    await page.select_option("select[name=kind]", "flow")
    await page.fill("input[name=name]", "fee_reduction")
    await page.click("[data-do=load]")
    await expect(page.locator("#flash")).to_contain_text("Loaded the deployed version")
    source = await page.input_value("textarea[name=source]")
    line = source.splitlines().index(BROKEN_LINE) + 1
    await page.fill("textarea[name=source]", source.replace(BROKEN_LINE, "  - {from: create, to: supervisr}"))
    await page.click("[data-do=deploy]")
    await expect(page.locator("#flash")).to_contain_text("nothing was deployed")
    problem = page.locator(f"#errors li[data-line='{line}']").first
    await expect(problem).to_contain_text(f"line {line}")
    await expect(problem).to_contain_text("supervisr")
    marked = page.locator(".gutter span").nth(line - 1)
    await expect(marked).to_have_text(str(line))
    await expect(marked).to_have_class("bad")
    await shot(page, "config-broken-flow")
    await problem.locator("a").click()
    selected = await page.evaluate("() => { const t = document.querySelector('textarea'); "
                                   "return t.value.slice(t.selectionStart, t.selectionEnd); }")
    assert "supervisr" in selected
    status, body = await api_get(api, tenant, "/api/v1/flows/fee_reduction")
    assert status == 200 and body["version"] == 1, "the broken flow must not have been deployed"


async def api_get(api: Any, tenant: str, path: str) -> tuple[int, Any]:
    resp = await api.client.get(path, headers=await api.headers(tenant, Role.VIEWER))
    return resp.status, await resp.json()
