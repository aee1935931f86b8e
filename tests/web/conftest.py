"""Web fixtures: the shipped demo configuration under the test's own tenant, served by the API fixture.

The demo's routing, IVR menus, flows and people are copied into a scratch
conf dir with ``demo`` renamed to the test's tenant (or copied once per tenant,
for the module's ``hotline serve`` in test_browser.py), so every Redis key the
test makes carries that tenant and is deleted afterwards (never a FLUSHDB).
"""

from __future__ import annotations

import copy
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import Deadline, Escalation, OutboxAlert, find_escalation
from api.pages.session import CSRF_HEADER, SESSION_COOKIE
from flows.intake import intake
from flows.models import Ticket
from flows.queries import ticket_detail
from hotline.models import Call
from hotline.settings import Settings
from hotline.tokens import Role
from tests.alerts.conftest import outbox_rows
from tests.flows.helpers import catalog, intent_event, setup_demo
from tests.router.conftest import demo_config, write_conf

REPO = Path(__file__).resolve().parents[2]


def tenant_conf(directory: Path, *tenants: str) -> Path:
    """A copy of ``conf/`` where the ``demo`` tenant is replaced by one copy of it per name in ``tenants``."""
    conf = directory / "conf"
    shutil.copytree(REPO / "conf", conf)
    for room in ("ivr", "flows"):
        for tenant in tenants:
            shutil.copytree(conf / room / "demo", conf / room / tenant)
        shutil.rmtree(conf / room / "demo")
    routings = [demo_config(REPO / "conf", tenant) for tenant in tenants]
    write_conf(conf, routings[0].model_copy(update={"tenants": {t: r.tenants[t] for t, r in zip(tenants, routings)}}))
    people = yaml.safe_load((conf / "people.yaml").read_text())
    demo = people["tenants"].pop("demo")
    people["tenants"] = {tenant: copy.deepcopy(demo) for tenant in tenants}
    (conf / "people.yaml").write_text(yaml.safe_dump(people, sort_keys=False))
    return conf


@pytest.fixture
def web_conf(tmp_path: Path, tenant: str) -> Path:
    return tenant_conf(tmp_path, tenant)


@pytest.fixture
def api_settings(db_url: str, redis_url: str, tmp_path: Path, web_conf: Path) -> Settings:
    """The API fixture over the tenant's copy of the demo configuration."""
    return Settings(conf_dir=web_conf, data_dir=tmp_path, database_url=db_url, redis_url=redis_url,
                    node_name="web-test")


async def browser_login(client: TestClient, token: str) -> str:
    """Log ``client`` in through the login form like a browser; returns the session's CSRF token."""
    page = await client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    done = await client.post("/login", data={"csrf": nonce, "token": token, "next": "/"}, allow_redirects=False)
    assert done.status == 303, await done.text()
    assert SESSION_COOKIE in {c.key for c in client.session.cookie_jar}
    routing_page = await client.get("/routing")
    return re.search(r'name="csrf-token" content="([^"]+)"', await routing_page.text()).group(1)


async def take_call(sessions: async_sessionmaker[AsyncSession], tenant: str, now: datetime) -> None:
    """The flow engine turns call-77 (fee reduction, 500) into a ticket at ``now``, as serve's flow worker does:
    a task for a supervisor, put on the SLA clock with its escalation in the same transaction.

    ``now`` is a parameter so a test can have a task that is overdue on the real clock (serve's).
    """
    event = intent_event(tenant, "call-77", "13800138000", 500, started_at=now.timestamp() - 60)
    async with sessions.begin() as session:
        await intake(session, tenant, [event], catalog=await catalog(sessions, tenant), now=now)


async def open_ticket(sessions: async_sessionmaker[AsyncSession], tenant: str) -> dict[str, Any]:
    """The demo fee-reduction flow with one ticket waiting for its supervisor, and the call that opened it."""
    await setup_demo(sessions, tenant)
    now = datetime.now(UTC)
    await take_call(sessions, tenant, now)
    async with sessions.begin() as session:
        session.add(Call(tenant=tenant, call_id="call-77", caller="13800138000", menu="main",
                         started_at=now - timedelta(seconds=60), ended_at=now - timedelta(seconds=18), outcome="routed",
                         outcome_node="reduction-queue", trajectory=[
                             [0, "enter", "main", "welcome", "play"], [4000, "enter", "main", "main", "menu"],
                             [6000, "keys", "main", "main", "2"], [6100, "enter", "main", "amount", "collect"],
                             [12000, "keys", "main", "amount", "500"],
                             [12100, "set", "main", "reduction", "fee_reduction", {"amount": 500}]]))
    async with sessions() as session:
        ticket_id = (await session.execute(select(Ticket.id).where(Ticket.tenant == tenant))).scalar_one()
        return await ticket_detail(session, tenant, Role.ADMIN, ticket_id, now)


async def escalation_rows(sessions: async_sessionmaker[AsyncSession], tenant: str,
                          task_id: int) -> tuple[Escalation, list[int], list[OutboxAlert]]:
    """What the alerts room keeps for a task: its escalation, the levels still to fire (the SLA clock fires
    nothing but these deadline rows) and the tenant's alerts."""
    async with sessions() as session:
        esc = await find_escalation(session, tenant, task_id)
        assert esc is not None, f"task {task_id} has no escalation"
        levels = await session.scalars(select(Deadline.level).where(Deadline.escalation_id == esc.id)
                                       .order_by(Deadline.level))
        return esc, list(levels), await outbox_rows(sessions, tenant)


__all__ = ["CSRF_HEADER", "browser_login", "escalation_rows", "open_ticket", "take_call", "tenant_conf"]
