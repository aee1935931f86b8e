"""Statistics consumer cost: PBX events/s through the stats worker's loop, Redis round trips and memory per call.

Run from the repository root: ``python -m bench.stats [--db postgresql+asyncpg://...] [--calls 4000] [--rounds 3]``

Every run is bounded (``--rounds`` of ``--calls`` calls of 5 events). SQL: a
fresh SQLite file in a temp dir, or the database ``--db`` names (migrated
here; its rows go under throw-away tenants and stay). Redis: ``--redis``
(default 127.0.0.1:6379) under throw-away tenants whose keys are deleted.

The calls overlap (50 in progress at any time), each with AMI-sized raw
headers: channel created, queue join, agent connect (one in five abandons
instead), bridge, hang-up. They are XADDed to the tenant's PBX event stream
and consumed with the stats worker's own loop (``StreamConsumer.run_once``
with ``StatsRecorder.handle``: read, apply, SQL, fenced Redis write, ack; 100 per batch).
Measured: events/s and process CPU per event; Redis round trips and commands
per batch (counted by the client's connection class: the server is shared); the
memory of the tenant's statistics keys per call once they are all settled;
then the same events again as new entries (what a replay does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection

from api.stats.consumer import GROUP, StatsRecorder
from api.stats.offers import TrunkMatcher
from bench._scratch_db import scratch_database
from hotline.db import create_engine, upgrade
from hotline.keys import pbx_events_stream, tenant_key
from hotline.pbx_events import PbxEvent
from hotline.pbx_events import PbxEventKind as K
from hotline.streams import StreamConsumer, ensure_group

EVENTS_PER_CALL = 5
OVERLAP = 50
T0 = 1_790_000_000.0
#: The bench holds the statistics lock for its whole round, not renewing it between batches like the worker.
LOCK_HELD_MS = 600_000


class CountingConnection(Connection):
    """Counts what is sent to Redis, client side (the server is shared): one packed send is one round trip
    (a pipeline or MULTI/EXEC is one), and every command packed is one command."""

    sent = 0
    commands = 0

    def pack_command(self, *args: Any) -> list[bytes]:
        CountingConnection.commands += 1
        return super().pack_command(*args)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)


def _headers(event: str, call: str, extra: dict[str, str]) -> dict[str, str]:
    return {"Event": event, "Privilege": "call,all", "Channel": f"PJSIP/carrier-a-{call}", "ChannelState": "6",
            "ChannelStateDesc": "Up", "CallerIDNum": "0612345678", "CallerIDName": "<unknown>",
            "ConnectedLineNum": "<unknown>", "Language": "en", "AccountCode": "", "Context": "hotline",
            "Exten": "s", "Priority": "1", "Uniqueid": call, "Linkedid": call, **extra}


def calls(tenant: str, n: int) -> list[PbxEvent]:
    """``n`` overlapping calls' events in time order; call ``i`` starts ``i`` seconds after ``T0``."""
    out: list[tuple[float, PbxEvent]] = []
    for i in range(n):
        call, start = f"bench-{i}", T0 + i
        abandon = i % 5 == 0
        steps = [(0.0, K.CHANNEL_CREATED, "Newchannel", {}), (2.0, K.QUEUE_JOIN, "QueueCallerJoin", {"Queue": "q"}),
                 (OVERLAP * 0.4, K.QUEUE_ABANDON if abandon else K.AGENT_CONNECT,
                  "QueueCallerAbandon" if abandon else "AgentConnect", {"Queue": "q", "MemberName": f"a{i % 20}"}),
                 (OVERLAP * 0.5, K.BRIDGE_ENTER, "BridgeEnter", {}), (OVERLAP, K.HANGUP, "Hangup", {"Cause": "16"})]
        for at, kind, name, extra in steps:
            raw = _headers(name, call, extra)
            out.append((start + at, PbxEvent(tenant=tenant, pbx="ast-1", kind=kind, call_id=call, ts=start + at,
                                             queue=extra.get("Queue", ""), raw=raw)))
    return [event for _, event in sorted(out, key=lambda pair: pair[0])]


async def _xadd(redis: aioredis.Redis, stream: str, events: list[PbxEvent]) -> None:
    for i in range(0, len(events), 500):
        async with redis.pipeline(transaction=False) as pipe:
            for event in events[i:i + 500]:
                pipe.xadd(stream, event.to_fields())
            await pipe.execute()


async def _consume(redis: aioredis.Redis, consumer: StreamConsumer, recorder: StatsRecorder,
                   events: list[PbxEvent]) -> dict[str, float]:
    """XADD ``events``, then run the worker's loop until they are all handled; the figures of that drain."""
    await _xadd(redis, consumer.stream, events)
    sent, commands = CountingConnection.sent, CountingConnection.commands
    wall, cpu = time.perf_counter(), time.process_time()
    handled = batches = 0
    while handled < len(events):
        handled += await consumer.run_once(recorder.handle)
        batches += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"events_per_s": len(events) / wall, "cpu_us_per_event": cpu / len(events) * 1e6,
            "round_trips_per_batch": (CountingConnection.sent - sent) / batches,
            "commands_per_batch": (CountingConnection.commands - commands) / batches}


async def _stats_memory(redis: aioredis.Redis, tenant: str, calls_n: int) -> float:
    total = 0
    async for key in redis.scan_iter(match=tenant_key(tenant, "stats", "*"), count=1000):
        total += await redis.memory_usage(key, samples=0) or 0
    return total / calls_n


async def _round(url: str, redis_url: str, n: int) -> dict[str, float]:
    engine = create_engine(url)
    await upgrade(engine)
    redis = aioredis.Redis.from_url(redis_url, connection_class=CountingConnection)
    tenant = f"bench{uuid.uuid4().hex[:8]}"
    consumer = StreamConsumer(redis, pbx_events_stream(tenant), GROUP, "bench", block_ms=10)
    recorder = StatsRecorder(engine, redis, tenant, TrunkMatcher({}), "bench")
    try:
        await recorder.lock.hold(LOCK_HELD_MS)
        await ensure_group(redis, consumer.stream, GROUP)
        events = calls(tenant, n)
        first = await _consume(redis, consumer, recorder, events)
        first["stats_bytes_per_call"] = await _stats_memory(redis, tenant, n)
        again = await _consume(redis, consumer, recorder, events)
        return {**first, **{f"replayed_{k}": v for k, v in again.items()}}
    finally:
        keys = [k async for k in redis.scan_iter(match=tenant_key(tenant, "*"), count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await engine.dispose()


async def _backend(url: str, redis_url: str, n: int, rounds: int) -> dict[str, float]:
    """Median of ``rounds`` fresh rounds (a new tenant each, same database)."""
    results = [await _round(url, redis_url, n) for _ in range(rounds)]
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="PostgreSQL server URL: a fresh database is made on it and dropped after "
                        "(default: a SQLite file in a temp dir)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.db:
        async with scratch_database(args.db) as url:
            results = await _backend(url, args.redis, args.calls, args.rounds)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = await _backend(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", args.redis, args.calls, args.rounds)
    print(json.dumps({"events": args.calls * EVENTS_PER_CALL, **{k: round(v, 1) for k, v in results.items()}},
                     indent=2))


if __name__ == "__main__":
    asyncio.run(main())
