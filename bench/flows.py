"""Flow engine throughput: tickets/s from stream events, full ticket lives/s, and SpiffWorkflow 3 as a yardstick.

Run from the repository root: ``python -m bench.flows [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--seconds 3]``

Every run is bounded (a few seconds, or a fixed number of events) and uses a
fresh database: a SQLite file in a temp dir, and a new PostgreSQL database
(created and dropped here) when ``--pg`` names a server. Redis: ``--redis``
(default 127.0.0.1:6379) under a unique tenant, so nothing is flushed.

Measured, on each backend:
- intake, per-event commits: events read from the stream 100 at a time, one
  transaction per event (the worst case: a quiet stream); on PostgreSQL also
  with ``--consumers`` members of the group at once, each on its own connection;
- intake, batched: the real stream handler, one transaction per batch of 500;
- full lives, batched: tickets of 5,000 (supervisor, manager, head, apply,
  revisit, close = 5 actions each) driven step by step, each step for 500
  tickets in one transaction through ``flows.actions.perform``;
- full lives, one action per transaction (what the API does per request);
- SpiffWorkflow 3.x (PostgreSQL only): the same reduction flow as BPMN, its
  serialized state saved to PostgreSQL: instances started and saved (what a
  ticket's creation is), and full lives saved after every step.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench._scratch_db import scratch_database
from flows.actions import Action, ActionRequest, Actor, perform
from flows.intake import intake
from flows.models import OPEN_TASK_STATES, Task
from flows.versions import CatalogCache
from flows.worker import intake_handler
from hotline.db import create_engine, session_factory, upgrade
from hotline.keys import intents_stream
from hotline.models import utcnow
from hotline.streams import Entry, StreamConsumer, ensure_group
from hotline.tokens import Role
from ivr.events import IntentEvent
from tests.conftest import drop_tenant_keys
from tests.flows.helpers import intent_event, setup_demo

BATCH = 500
#: Tenants this run made, whose Redis keys it deletes at the end (the server may be shared: never a flush).
_TENANTS: list[str] = []


def _new_tenant() -> str:
    _TENANTS.append(f"b{uuid.uuid4().hex[:8]}")
    return _TENANTS[-1]


async def _stream(redis: aioredis.Redis, tenant: str, n: int, amount: int = 500) -> None:
    stream = intents_stream(tenant)
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(n):
            pipe.xadd(stream, intent_event(tenant, f"c{i}", f"1{i:010d}", amount).to_fields())
        await pipe.execute()


async def _drain(
    consumer: StreamConsumer, handler: Callable[[list[Entry]], Awaitable[None]], n: int
) -> float:
    start, done = time.perf_counter(), 0
    while done < n:
        done += await consumer.run_once(handler)
    return time.perf_counter() - start


async def intake_per_event(
    sessions: async_sessionmaker[AsyncSession], redis: aioredis.Redis, n: int, consumers: int = 1
) -> float:
    """One transaction per event; ``consumers`` members of the group, each on its own connection."""
    tenant = _new_tenant()
    await setup_demo(sessions, tenant)
    await _stream(redis, tenant, n)
    stream = intents_stream(tenant)
    await ensure_group(redis, stream, "flows")
    catalogs = CatalogCache(ttl_s=1.0)

    async def handle(entries: list[Entry]) -> None:
        for entry in entries:
            async with sessions.begin() as session:
                catalog = await catalogs.get(session, tenant)
                await intake(
                    session, tenant, [IntentEvent.from_fields(entry.fields)], catalog=catalog, now=utcnow()
                )

    batch = max(1, min(100, n // (consumers * 4)))  # small reads, so every consumer gets work
    group = [
        StreamConsumer(redis, stream, "flows", f"bench{i}", batch=batch, block_ms=10) for i in range(consumers)
    ]
    done = 0

    async def run(consumer: StreamConsumer) -> None:
        nonlocal done
        while done < n:
            handled = await consumer.run_once(handle)  # not ``done += await ...``: that loses updates
            done += handled

    start = time.perf_counter()
    await asyncio.gather(*(run(c) for c in group))
    return n / (time.perf_counter() - start)


async def intake_batched(
    sessions: async_sessionmaker[AsyncSession], redis: aioredis.Redis, n: int, amount: int = 500
) -> tuple[float, str]:
    tenant = _new_tenant()
    await setup_demo(sessions, tenant)
    await _stream(redis, tenant, n, amount)
    consumer = StreamConsumer(redis, intents_stream(tenant), "flows", "bench", batch=BATCH, block_ms=10)
    await ensure_group(redis, consumer.stream, "flows")
    return n / await _drain(
        consumer, intake_handler(sessions, consumer, tenant, CatalogCache(1.0)), n
    ), tenant


async def _open_tasks(sessions: async_sessionmaker[AsyncSession], tenant: str) -> list[tuple[int, str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Task.id, Task.assignee, Task.node_type)
            .where(Task.tenant == tenant, Task.state.in_(OPEN_TASK_STATES))
            .order_by(Task.id)
        )
        return [tuple(r) for r in rows.all()]


async def lives(sessions: async_sessionmaker[AsyncSession], redis: aioredis.Redis, n: int, per: int) -> float:
    """Create ``n`` tickets of 5,000 and run each to its end, ``per`` actions per transaction."""
    start = time.perf_counter()
    _, tenant = await intake_batched(sessions, redis, n, amount=5000)
    await _analyze(sessions)  # this tenant's tickets are most of the tables now: autovacuum would analyze them
    while tasks := await _open_tasks(sessions, tenant):
        for i in range(0, len(tasks), per):
            chunk = tasks[i : i + per]
            by_person: dict[str, list[ActionRequest]] = {}
            for task_id, assignee, node_type in chunk:
                action = Action.APPROVE if node_type == "approve" else Action.HANDLE
                by_person.setdefault(assignee, []).append(ActionRequest(task_id, action, {}))
            async with sessions.begin() as session:
                for person, requests in by_person.items():
                    results = await perform(
                        session, tenant, Actor(person, Role.AGENT, person), requests, now=utcnow()
                    )
                    assert all(not isinstance(r, Exception) for r in results), results[:3]
    return n / (time.perf_counter() - start)


SPIFF_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="fee_reduction" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="supervisor"/>
    <bpmn:userTask id="supervisor"/>
    <bpmn:sequenceFlow id="f2" sourceRef="supervisor" targetRef="g1"/>
    <bpmn:exclusiveGateway id="g1" default="f_mgr"/>
    <bpmn:sequenceFlow id="f_rej1" sourceRef="g1" targetRef="rejected"><bpmn:conditionExpression>not approved</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="g1" targetRef="closed"><bpmn:conditionExpression>approved and amount &lt; 200</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_mgr" sourceRef="g1" targetRef="manager"/>
    <bpmn:userTask id="manager"/>
    <bpmn:sequenceFlow id="f3" sourceRef="manager" targetRef="g2"/>
    <bpmn:exclusiveGateway id="g2" default="f_apply1"/>
    <bpmn:sequenceFlow id="f_rej2" sourceRef="g2" targetRef="rejected"><bpmn:conditionExpression>not approved</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_head" sourceRef="g2" targetRef="head"><bpmn:conditionExpression>amount &gt; 1000</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_apply1" sourceRef="g2" targetRef="apply"/>
    <bpmn:userTask id="head"/>
    <bpmn:sequenceFlow id="f4" sourceRef="head" targetRef="g3"/>
    <bpmn:exclusiveGateway id="g3" default="f_apply2"/>
    <bpmn:sequenceFlow id="f_rej3" sourceRef="g3" targetRef="rejected"><bpmn:conditionExpression>not approved</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_apply2" sourceRef="g3" targetRef="apply"/>
    <bpmn:userTask id="apply"/>
    <bpmn:sequenceFlow id="f5" sourceRef="apply" targetRef="revisit"/>
    <bpmn:userTask id="revisit"/>
    <bpmn:sequenceFlow id="f6" sourceRef="revisit" targetRef="closed"/>
    <bpmn:endEvent id="closed"/>
    <bpmn:endEvent id="rejected"/>
  </bpmn:process>
</bpmn:definitions>
"""


async def spiffworkflow(dsn: str, seconds: float) -> dict[str, float] | str:
    """SpiffWorkflow running the reduction flow, its serialized state saved to PostgreSQL: instances/s (started
    and saved once, as a ticket is created) and full lives/s (saved after every step)."""
    try:
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState
    except ImportError:
        return "not installed (pip install -e '.[dev]')"
    parser = BpmnParser()
    parser.add_bpmn_str(SPIFF_BPMN.encode())
    spec = parser.get_spec("fee_reduction")
    serializer = BpmnWorkflowSerializer()
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE spiff_state (id bigserial PRIMARY KEY, state jsonb NOT NULL)")

    async def started() -> tuple[Any, int]:
        workflow = BpmnWorkflow(spec)
        workflow.data.update({"amount": 5000})
        workflow.do_engine_steps()
        row = await conn.fetchval(
            "INSERT INTO spiff_state (state) VALUES ($1) RETURNING id", serializer.serialize_json(workflow)
        )
        return workflow, row

    async def life() -> None:
        workflow, row = await started()
        while not workflow.is_completed():
            for task in workflow.get_tasks(state=TaskState.READY, manual=True):
                task.data.update({"approved": True, "amount": 5000})
                task.run()
            workflow.do_engine_steps()
            await conn.execute(
                "UPDATE spiff_state SET state = $1 WHERE id = $2", serializer.serialize_json(workflow), row
            )

    async def rate(one: Callable[[], Awaitable[Any]]) -> float:
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            await one()
            done += 1
        return done / (time.perf_counter() - start)

    out = {"instances": await rate(started), "lives": await rate(life)}
    await conn.close()
    return out


async def _steady_state(sessions: async_sessionmaker[AsyncSession], redis: aioredis.Redis) -> None:
    """Tables with planner statistics, as on a live system (autovacuum analyzes within a minute).

    On a fresh database PostgreSQL plans the intake's lookups for empty
    tables and keeps those plans while the tables grow: measured, its CPU per
    ticket doubled from the first 5,000 tickets to the next 5,000, and fell to
    ~80 µs, flat, after one ANALYZE."""
    await intake_batched(sessions, redis, 2000)
    await _analyze(sessions)


async def _analyze(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await session.execute(text("ANALYZE"))


async def _backend(url: str, redis: aioredis.Redis, seconds: float, consumers: int) -> dict[str, Any]:
    engine = create_engine(url, pool_size=10) if url.startswith("postgresql") else create_engine(url)
    await upgrade(engine)
    gc.freeze()  # as ``hotline serve`` does once its parts have started
    sessions = session_factory(engine)
    await _steady_state(sessions, redis)
    out: dict[str, Any] = {}
    scale = seconds / 3
    out["intake_per_event_commit"] = await intake_per_event(sessions, redis, int(1500 * scale))
    if consumers > 1 and url.startswith("postgresql"):  # SQLite has one writer at a time
        out[f"intake_per_event_commit_{consumers}_consumers"] = await intake_per_event(
            sessions, redis, int(1500 * scale), consumers
        )
    out["intake_batched"] = (await intake_batched(sessions, redis, int(20000 * scale)))[0]
    out["lives_batched"] = await lives(sessions, redis, int(2000 * scale), per=BATCH)
    out["lives_one_action_per_tx"] = await lives(sessions, redis, int(200 * scale), per=1)
    await engine.dispose()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="PostgreSQL server URL (a fresh database is created on it)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=3.0, help="rough length of each run")
    parser.add_argument(
        "--consumers", type=int, default=4, help="PostgreSQL per-event run: also with this many consumers"
    )
    args = parser.parse_args()
    redis = aioredis.Redis.from_url(args.redis)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = await _backend(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", redis, args.seconds, 1)
    if args.pg:
        async with scratch_database(args.pg) as url:
            results["postgres"] = await _backend(url, redis, args.seconds, args.consumers)
            dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            spiff = await spiffworkflow(dsn, args.seconds)
            results["postgres"].update(
                {f"spiffworkflow_{k}": v for k, v in spiff.items()}
                if isinstance(spiff, dict)
                else {"spiffworkflow": spiff}
            )
    for tenant in _TENANTS:
        drop_tenant_keys(args.redis, tenant)
    await redis.aclose()
    print(
        json.dumps(
            {
                k: {m: round(v) if isinstance(v, float) else v for m, v in r.items()}
                for k, r in results.items()
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
