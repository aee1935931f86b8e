"""The serve part: deploys the conf at start, consumes each flow tenant's intents, stops cleanly."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.models import FlowVersion, Ticket
from flows.worker import flow_worker
from hotline.db import session_factory
from hotline.keys import intents_stream
from hotline.serve import Runtime
from hotline.settings import Settings
from tests.flows.helpers import CONF, intent_event


async def test_flow_worker_deploys_consumes_and_stops(
    engine: AsyncEngine,
    async_redis,
    tenant: str,
    db_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(CONF / "flows" / "demo", conf / "flows" / tenant)
    (conf / "people.yaml").write_text((CONF / "people.yaml").read_text().replace("  demo:", f"  {tenant}:"))
    settings = Settings(
        conf_dir=conf, data_dir=tmp_path, database_url=db_url, redis_url=redis_url, node_name="w1"
    )
    sessions = session_factory(engine)
    async with flow_worker(Runtime(settings, engine, async_redis, redis_url)):
        await async_redis.xadd(intents_stream(tenant), intent_event(tenant, "w-1").to_fields())
        for _ in range(200):
            async with sessions() as session:
                count = (
                    await session.execute(
                        select(func.count()).select_from(Ticket).where(Ticket.tenant == tenant)
                    )
                ).scalar_one()
            if count:
                break
            await asyncio.sleep(0.02)
    assert count == 1
    async with sessions() as session:
        versions = (
            await session.execute(select(FlowVersion.flow_key).where(FlowVersion.tenant == tenant))
        ).all()
    assert versions == [("fee_reduction",)]
