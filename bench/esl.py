"""FreeSWITCH edge benchmark: calls/s through the outbound socket, events/s through the inbound client.

Usage: python -m bench.esl [--url redis://127.0.0.1:6379/0] [--calls 400] [--concurrency 1,20,100]
                           [--events 20000]
(from the repository root).

* outbound: a real ``hotline esl`` child process (gevent, as in production)
  and simulated FreeSWITCH calls (tests/sim/freeswitch.py, asyncio, in this
  process) on loopback. Each call is the demo call: connect, myevents,
  linger, answer, two prompts, two play_and_get_digits (``2``, ``500#``), the
  hand-off to Redis (history transaction + XADD), the router's decision (one
  Lua call), seven ``set``\\s, a bridge (answered, then hung up), the lease
  release, exit: 21 commands and ~35 events. Simulated media take no time, so
  this measures Hotline's cost per call, not a caller's. Bounded: --calls
  calls per concurrency level.
* inbound: ``InboundClient`` subscribed to a simulated event socket; the
  simulator writes --events JSON events (CHANNEL_CREATE/ANSWER/DTMF/
  HANGUP_COMPLETE in turn, ~1.4 KB each as FreeSWITCH's are) and the figure is
  events per second until the last one is on the Redis stream, hang-ups
  releasing their (absent) leases. Simulator and client share this process.

Redis keys are under throw-away tenants and deleted afterwards; nothing is flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from esl.inbound import InboundClient
from hotline import keys
from router.aio import AsyncRouter
from router.check import load_routing_config
from tests.conftest import free_port
from tests.esl.conftest import EslProcess, write_conf
from tests.sim.freeswitch import Caller, SimCall, SimSwitch


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cleanup(url: str, tenants: list[str]) -> None:
    client = redis.Redis.from_url(url)
    for tenant in tenants:
        found = list(client.scan_iter(match=f"hotline:{{{tenant}}}:*", count=1000))
        if found:
            client.delete(*found)


async def _calls(port: int, tenant: str, count: int, concurrency: int) -> tuple[float, list[float], int]:
    gate = asyncio.Semaphore(concurrency)
    durations: list[float] = []
    failures = 0

    async def one() -> None:
        nonlocal failures
        async with gate:
            sim = SimCall(variables={"hotline_tenant": tenant, "hotline_menu": "main"}, caller=Caller(["2", "500#"]),
                          scale=0.0)
            started = time.perf_counter()
            result = await asyncio.wait_for(sim.run("127.0.0.1", port), 30)
            durations.append(time.perf_counter() - started)
            failures += result.variables.get("hotline_outcome") != "routed"

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started, durations, failures


def outbound(url: str, count: int, levels: list[int]) -> list[str]:
    tenants = [f"bench-{uuid.uuid4().hex[:8]}-{n}" for n in levels]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        conf = write_conf(Path(tmp) / "conf", tenants)
        process = EslProcess(conf, url, free_port()).start()  # INFO logs, as in production
        try:
            asyncio.run(_calls(process.port, tenants[0], 20, 5))  # warm-up: imports, Lua script cache
            for tenant, level in zip(tenants, levels, strict=True):
                cpu = _cpu_seconds(process.proc.pid)
                wall, durations, failures = asyncio.run(_calls(process.port, tenant, count, level))
                used_ms = (_cpu_seconds(process.proc.pid) - cpu) * 1000 / count
                q = statistics.quantiles(durations, n=100)
                rows.append(f"| outbound, {level} concurrent | {count / wall:,.0f} calls/s | "
                            f"p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms per call; "
                            f"`hotline esl` CPU {used_ms:.1f} ms/call | {failures} failed |")
        finally:
            process.stop()
            _cleanup(url, tenants)
    return rows


async def _inbound(url: str, count: int) -> str:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    client_redis = aioredis.Redis.from_url(url)
    with tempfile.TemporaryDirectory() as tmp:
        router = AsyncRouter.from_url(url, load_routing_config(write_conf(Path(tmp), [tenant])), node="bench")
    switch = SimSwitch(free_port())
    await switch.start()
    client = InboundClient("127.0.0.1", switch.port, switch.password, client_redis, tenant=tenant, pbx="bench",
                           release=router.release, queue_size=count)  # no drops: measure the whole chain
    await client.start()
    try:
        await asyncio.wait_for(client.connected.wait(), 5)
        names = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "DTMF", "CHANNEL_HANGUP_COMPLETE")
        started = time.perf_counter()
        for i in range(count):
            call = f"{i // 4:08d}-0000-4000-8000-000000000000"
            await switch.emit(names[i % 4], [
                ("Unique-ID", call), ("Channel-Name", "sofia/internal/1000@192.0.2.2"),
                ("Caller-Caller-ID-Number", "13800138000"), ("Caller-Destination-Number", "4000"),
                ("DTMF-Digit", "2"), ("Hangup-Cause", "NORMAL_CLEARING"), ("variable_hangup_cause_q850", "16"),
                *((f"variable_x_{n}", "v" * 20) for n in range(30)),
            ])
            if i % 200 == 0:
                await asyncio.sleep(0)
        stream = keys.pbx_events_stream(tenant)
        written = 0
        while (written := await client_redis.xlen(stream)) < count and time.perf_counter() - started < 120:
            await asyncio.sleep(0.005)
        wall = time.perf_counter() - started
    finally:
        await client.close()
        await switch.stop()
        await client_redis.aclose()
        await router.client.aclose()
        _cleanup(url, [tenant])
    return (f"| inbound events → Redis stream | {written / wall:,.0f} events/s | {written} of {count} events in "
            f"{wall:.2f} s, {client.sessions} session(s) | {client.dropped} dropped |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", default="1,20,100")
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    print("| figure | rate | detail | errors |\n|---|---|---|---|")
    for row in outbound(args.url, args.calls, [int(n) for n in args.concurrency.split(",")]):
        print(row, flush=True)
    print(asyncio.run(_inbound(args.url, args.events)), flush=True)


if __name__ == "__main__":
    main()
