"""Serve part of the flow engine: intake consumers per tenant and the config watcher.

On start it syncs people.yaml and deploys every flow file (unchanged files
create nothing), then runs one consumer of ``keys.intents_stream(tenant)`` in
the group ``flows`` for each tenant with a directory under ``conf/flows/``
(a tenant added later needs a restart), and the watcher. Each stream batch is
one transaction; entries are acked by ``StreamConsumer`` after the commit. An
entry that is not an intent event is moved to the dead-letter stream at once
with the reason (``StreamConsumer.bury``), never dropped silently, and
``hotline streams dead`` shows it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.deployer import deploy_files
from flows.intake import intake
from flows.presence import presence_source
from flows.versions import CatalogCache
from flows.watcher import watch
from hotline.db import session_factory
from hotline.keys import intents_stream
from hotline.logs import get_logger
from hotline.models import utcnow
from hotline.serve import Runtime
from hotline.streams import Entry, Handler, StreamConsumer
from hotline.workers import Worker, background, tenants_in
from ivr.events import IntentEvent

__all__ = ["GROUP", "flow_worker", "intake_handler"]

log = get_logger(__name__)
GROUP = "flows"


def _now_ms() -> int:
    return int(time.time() * 1000)


def intake_handler(
    sessions: async_sessionmaker[AsyncSession],
    consumer: StreamConsumer,
    tenant: str,
    catalogs: CatalogCache,
    clock: Callable[[], datetime] = utcnow,
) -> Handler:
    """The stream handler: parse the batch, make its tickets in one transaction (commit before the ack)."""
    presence = presence_source(consumer.redis, tenant, _now_ms)

    async def handle(entries: list[Entry]) -> None:
        events = []
        for entry in entries:
            try:
                events.append(IntentEvent.from_fields(entry.fields))
            except ValueError as exc:
                await consumer.bury([entry], f"malformed intent event: {exc}")
        if not events:
            return
        async with sessions.begin() as session:
            catalog = await catalogs.get(session, tenant)
            result = await intake(session, tenant, events, catalog=catalog, now=clock(), presence=presence)
        log.info(
            "intent batch",
            tenant=tenant,
            entries=len(entries),
            created=result.created,
            attached=result.attached,
            duplicates=result.duplicates,
            skipped=result.skipped,
        )

    return handle


def _consumer_worker(
    redis: aioredis.Redis,
    sessions: async_sessionmaker[AsyncSession],
    tenant: str,
    node: str,
    catalogs: CatalogCache,
) -> Worker:
    consumer = StreamConsumer(redis, intents_stream(tenant), GROUP, node)
    handler = intake_handler(sessions, consumer, tenant, catalogs)

    async def run(stop: asyncio.Event) -> None:
        await consumer.run(handler, stop)

    return run


@asynccontextmanager
async def flow_worker(runtime: Runtime) -> AsyncIterator[None]:
    """Serve part: deploy the conf, then consume every flow tenant's intents and watch the files."""
    sessions = session_factory(runtime.engine)
    conf_dir = runtime.settings.conf_dir
    report = await deploy_files(sessions, conf_dir)
    log.info(
        "flows deployed at start",
        deployed=len(report.deployed),
        unchanged=len(report.unchanged),
        errors=len(report.errors),
    )
    catalogs = CatalogCache()
    workers: dict[str, Worker] = {
        f"flows-intake:{t}": _consumer_worker(
            runtime.redis, sessions, t, runtime.settings.node_name, catalogs
        )
        for t in tenants_in(conf_dir, "flows")
    }

    async def watcher(stop: asyncio.Event) -> None:
        await watch(sessions, conf_dir, stop)

    workers["flows-watch"] = watcher
    async with background(workers):
        yield
