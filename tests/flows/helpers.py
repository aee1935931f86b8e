"""Building blocks for flow tests: the demo org and flow under a test's own tenant, and intent events."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.directory import Directory
from flows.files import read_people
from flows.people_store import replace_directory
from flows.versions import Catalog, deploy
from ivr.events import IntentEvent
from ivr.intent import Priority
from ivr.trajectory import Outcome
from router.check import tenant_regions

CONF = Path(__file__).resolve().parents[2] / "conf"
DEMO_FLOW = CONF / "flows" / "demo" / "fee_reduction.yaml"
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def demo_org() -> Any:
    orgs, errors = read_people(CONF / "people.yaml", tenant_regions(CONF))
    assert not errors
    return orgs["demo"]


async def setup_demo(
    sessions: async_sessionmaker[AsyncSession], tenant: str, flow_text: str | None = None
) -> None:
    """The demo people and the fee-reduction flow, deployed for ``tenant``."""
    async with sessions.begin() as session:
        await replace_directory(session, tenant, demo_org(), "test", NOW)
        await deploy(
            session,
            tenant,
            "fee_reduction",
            flow_text or DEMO_FLOW.read_text(),
            origin="test",
            now=NOW,
            directory=Directory.from_conf(demo_org()),
        )


async def catalog(sessions: async_sessionmaker[AsyncSession], tenant: str) -> Catalog:
    async with sessions() as session:
        return await Catalog.load(session, tenant)


def intent_event(
    tenant: str,
    call_id: str,
    caller: str = "13800138000",
    amount: Any = 500,
    *,
    started_at: float | None = None,
    template: str | None = "fee_reduction",
    repeat: bool = False,
) -> IntentEvent:
    start = started_at if started_at is not None else time.time()
    return IntentEvent(
        call_id=call_id,
        tenant=tenant,
        caller=caller,
        menu="main",
        language="en",
        started_at=start,
        ended_at=start + 42.0,
        outcome=Outcome.ROUTED,
        outcome_node="route_reduction",
        intent="fee_reduction" if template else None,
        template=template,
        priority=Priority.HIGH if template else None,
        fields={"amount": amount, "account": "AC-1"} if amount is not None else {},
        repeat=repeat,
        earlier_call_ids=(),
        summary={},
        steps=(),
    )
